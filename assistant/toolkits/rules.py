"""Which legal points apply to a case: the rules of ``regeln.yaml`` evaluated against the input facts.

The rules are data (see the header of regeln.yaml). A rule applies when its condition holds for the
facts; the result names the norm (as the norm register spells it), why it applies (the German labels
of the facts that made the condition true), the quoted course passage and its unit, and the Stand
dates of rule and unit. Nothing here writes legal text: the documents quote ``beleg`` verbatim.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..normen import NormEntry, NormRegister, as_date

RULES_PATH = Path(__file__).resolve().parent / "regeln.yaml"
TOOLS = ("briefing", "check")
BEREICHE = {"mitbestimmung": "Mitbestimmung und Informationsrechte (BetrVG)",
            "datenschutz": "Datenschutz (DSGVO, BDSG)",
            "ki-verordnung": "KI-Verordnung (EU) 2024/1689",
            "arbeitsschutz": "Arbeits- und Gesundheitsschutz (ArbSchG)"}
EINSATZ = ("texte", "kundenkontakt", "personalauswahl", "personaleinsatz", "leistungsbewertung", "zeiterfassung",
           "maschinen", "gesundheit", "emotionserkennung")
DATEN = ("beschaeftigte", "kunden", "gesundheit", "standort", "leistung")
_THRESHOLD = re.compile(r"^beschaeftigte>(\d+)$")


@dataclass(frozen=True)
class Facts:
    """What the user told us about the business and the system (the same for briefing and check)."""

    betriebsrat: bool = False
    beschaeftigte: int | None = None
    einsatz: frozenset[str] = frozenset()
    daten: frozenset[str] = frozenset()
    entscheidet: bool = False
    cloud: bool = False
    arbeit_aendert: bool = False
    sorgen: bool = False

    def __post_init__(self) -> None:
        bad = [x for x in self.einsatz if x not in EINSATZ] + [x for x in self.daten if x not in DATEN]
        if bad:
            raise ValueError("Unbekannte Angabe: " + ", ".join(sorted(bad)))

    def holds(self, atom: str) -> bool:
        kind, _, value = atom.partition(":")
        if kind == "einsatz":
            return value in self.einsatz
        if kind == "daten":
            return value in self.daten
        m = _THRESHOLD.match(atom)
        if m:
            return self.beschaeftigte is not None and self.beschaeftigte > int(m.group(1))
        if atom in ("betriebsrat", "entscheidet", "cloud", "arbeit_aendert", "sorgen"):
            return bool(getattr(self, atom))
        raise KeyError(atom)


@dataclass(frozen=True)
class Condition:
    alle: tuple[str, ...] = ()
    eine: tuple[str, ...] = ()
    keine: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Condition:
        raw = raw or {}
        unknown = set(raw) - {"alle", "eine", "keine"}
        if unknown:
            raise ValueError(f"unbekannte Bedingung {sorted(unknown)}")
        return cls(*(tuple(str(x) for x in raw.get(k) or ()) for k in ("alle", "eine", "keine")))

    def atoms(self) -> tuple[str, ...]:
        return self.alle + self.eine + self.keine


@dataclass(frozen=True)
class Passage:
    quelle: str
    beleg: str
    wenn: Condition = Condition()


@dataclass(frozen=True)
class Rule:
    id: str
    norm: str
    bereich: str
    fuer: tuple[str, ...]
    wenn: Condition
    quelle: str
    beleg: str
    stand: dt.date
    anlass: str = ""
    zusatz: tuple[Passage, ...] = ()
    fragen: tuple[int, ...] = ()
    bv: tuple[str, ...] = ()
    hilfen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topic:
    """Briefing: a course unit whose "Beratung" paragraph and questions fit the case."""

    einheit: str
    wenn: Condition
    hilfen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Objection:
    einwand: str
    stichworte: tuple[str, ...]


@dataclass
class Finding:
    """A rule that applies to the case."""

    rule: Rule
    entry: NormEntry
    anlass: list[str]
    passages: list[Passage] = field(default_factory=list)  # the main beleg first, then the applicable zusatz


class RuleSet:
    def __init__(self, rules: Iterable[Rule], begriffe: Mapping[str, Condition], merkmale: Mapping[str, str],
                 stand: dt.date, themen: Iterable[Topic] = (), einwaende: Iterable[Objection] = (),
                 hilfen_immer: Iterable[str] = ()) -> None:
        self.rules = list(rules)
        self.themen = list(themen)
        self.einwaende = list(einwaende)
        self.hilfen_immer = list(hilfen_immer)
        self.pruefthemen: list[Topic] = []
        self.begriffe = dict(begriffe)
        self.merkmale = dict(merkmale)
        self.stand = stand

    @classmethod
    def load(cls, path: Path | str = RULES_PATH) -> RuleSet:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        rules = []
        for raw in data.get("regeln") or []:
            missing = {"id", "norm", "bereich", "fuer", "quelle", "beleg", "stand"} - set(raw)
            if missing:
                raise ValueError(f"Regel {raw.get('id', '?')!r} ohne {', '.join(sorted(missing))}")
            rules.append(Rule(
                id=str(raw["id"]), norm=str(raw["norm"]), bereich=str(raw["bereich"]),
                fuer=tuple(raw["fuer"]), wenn=Condition.parse(raw.get("wenn")), quelle=str(raw["quelle"]),
                beleg=" ".join(str(raw["beleg"]).split()), stand=as_date(raw["stand"]),
                anlass=str(raw.get("anlass") or ""),
                zusatz=tuple(Passage(str(z["quelle"]), " ".join(str(z["beleg"]).split()), Condition.parse(z.get("wenn")))
                             for z in raw.get("zusatz") or ()),
                fragen=tuple(int(x) for x in raw.get("fragen") or ()), bv=tuple(str(x) for x in raw.get("bv") or ()),
                hilfen=tuple(str(x) for x in raw.get("hilfen") or ())))
        begriffe = {str(k): Condition.parse(v) for k, v in (data.get("begriffe") or {}).items()}
        themen = [Topic(str(t["einheit"]), Condition.parse(t.get("wenn")), tuple(t.get("hilfen") or ()))
                  for t in data.get("themen") or ()]
        einwaende = [Objection(str(e["einwand"]), tuple(str(x).lower() for x in e["stichworte"]))
                     for e in data.get("einwaende") or ()]
        ruleset = cls(rules, begriffe, {str(k): str(v) for k, v in (data.get("merkmale") or {}).items()},
                      as_date(data.get("stand")), themen, einwaende, [str(x) for x in data.get("hilfen_immer") or ()])
        ruleset.pruefthemen = [Topic(str(t["einheit"]), Condition.parse(t.get("wenn")))
                               for t in data.get("pruefthemen") or ()]
        ruleset.validate()
        return ruleset

    def validate(self) -> None:
        """Structural checks (the content checks against course and register are in the tests)."""
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("Regel-ids sind nicht eindeutig")
        for r in self.rules:
            if r.bereich not in BEREICHE or not set(r.fuer) <= set(TOOLS) or r.stand is None:
                raise ValueError(f"Regel {r.id}: bereich, fuer oder stand ungültig")
            for cond in (r.wenn, *(z.wenn for z in r.zusatz)):
                for atom in cond.atoms():
                    self._check_atom(atom)
        for t in (*self.themen, *self.pruefthemen):
            for atom in t.wenn.atoms():
                self._check_atom(atom)
        for name, cond in self.begriffe.items():
            for atom in cond.atoms():
                if atom == name:
                    raise ValueError(f"Begriff {name!r} verweist auf sich selbst")
                self._check_atom(atom)

    def _check_atom(self, atom: str) -> None:
        if atom in self.begriffe:
            return
        if atom not in self.merkmale:
            raise ValueError(f"Bedingung {atom!r} ist weder Merkmal noch Begriff")
        Facts().holds(atom)  # KeyError for an atom Facts cannot evaluate

    # --- evaluation ------------------------------------------------------------------------------------

    def reasons(self, atom: str, facts: Facts) -> list[str] | None:
        """None when the atom does not hold; else the facts (German labels) that make it hold."""
        if atom in self.begriffe:
            return self.evaluate(self.begriffe[atom], facts)
        return [self.merkmale[atom]] if facts.holds(atom) else None

    def evaluate(self, cond: Condition, facts: Facts) -> list[str] | None:
        why: list[str] = []
        for atom in cond.alle:
            r = self.reasons(atom, facts)
            if r is None:
                return None
            why += r
        if cond.eine:
            found = [r for atom in cond.eine if (r := self.reasons(atom, facts)) is not None]
            if not found:
                return None
            why += [x for r in found for x in r]
        if any(self.reasons(atom, facts) is not None for atom in cond.keine):
            return None
        return list(dict.fromkeys(why))

    def topics(self, facts: Facts) -> list[Topic]:
        return [t for t in self.themen if self.evaluate(t.wenn, facts) is not None]

    def check_topics(self, facts: Facts) -> list[Topic]:
        return [t for t in self.pruefthemen if self.evaluate(t.wenn, facts) is not None]

    def objections(self, worries: str) -> list[Objection]:
        low = worries.lower()
        return [o for o in self.einwaende if any(w in low for w in o.stichworte)]

    def apply(self, facts: Facts, tool: str, register: NormRegister) -> list[Finding]:
        """The rules of ``tool`` that apply, in file order."""
        out: list[Finding] = []
        for r in self.rules:
            if tool not in r.fuer:
                continue
            why = self.evaluate(r.wenn, facts)
            if why is None:
                continue
            entry = next((e for e in register.entries if e.id == r.norm), None)
            if entry is None:
                raise ValueError(f"Regel {r.id}: Norm {r.norm!r} fehlt im Normenregister")
            passages = [Passage(r.quelle, r.beleg)] + [z for z in r.zusatz if self.evaluate(z.wenn, facts) is not None]
            out.append(Finding(r, entry, why or ([r.anlass] if r.anlass else []), passages))
        return out
