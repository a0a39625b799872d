"""The norm register (``corpus/_normen.yaml``) and the "Stand" of what an answer cites.

The register lists every norm the course cites: the statement as the course uses it, the source it
was checked against, the check date, the date the course's statement last changed (``geaendert``)
and the units citing it. A citation is what ``answering.find_norms`` finds in a unit's text (the
same function builds the works-council "Rechtsgrundlage" block), plus the optional regular
expression ``muster`` of an entry for citations it cannot see (court decisions, short forms).

Answers use it in one way: when a cited passage's unit has a ``stand`` older than the ``geaendert``
date of a norm the passage cites, the answer carries one German line saying so (``stand_notice``).

``python -m assistant.normen [corpus]`` prints citations missing from the register and units lists
that differ from the corpus (the same checks as tests/test_norms.py).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .answers.answering import find_norms

REGISTER_NAME = "_normen.yaml"  # the leading "_" keeps ingest from reading it as course material
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus"
ERGEBNISSE = {"bestaetigt", "korrigiert", "entfernt"}
_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)


@dataclass(frozen=True)
class Ueberholt:
    """A wording that is no longer correct and must not appear in the corpus again."""

    muster: str
    fassung: str
    bis: dt.date | None = None

    def search(self, text: str) -> re.Match[str] | None:
        return re.search(self.muster, " ".join(text.split()))


@dataclass(frozen=True)
class NormEntry:
    id: str
    norm: str
    gesetz: str
    aussage: str
    quelle: str
    geprueft: dt.date
    ergebnis: str
    geaendert: dt.date | None = None
    rechtsaenderung: dt.date | None = None
    zitierformen: tuple[str, ...] = ()
    muster: str | None = None
    einheiten: tuple[str, ...] = ()
    ueberholt: tuple[Ueberholt, ...] = ()
    anmerkung: str = ""

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.norm, *[f for f in self.zitierformen if f != self.norm])


def as_date(value: Any) -> dt.date | None:
    """A date from YAML, Chroma metadata ("2026-11-29") or None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def de_date(value: Any) -> str:
    """29.11.2026 (German short date) or "" when unknown."""
    d = as_date(value)
    return d.strftime("%d.%m.%Y") if d else ""


class NormRegister:
    def __init__(self, entries: Iterable[NormEntry], path: Path | None = None) -> None:
        self.entries = list(entries)
        self.path = path
        self._by_form: dict[str, NormEntry] = {}
        for e in self.entries:
            for f in e.forms:
                if f in self._by_form and self._by_form[f].id != e.id:
                    raise ValueError(f"Zitierform {f!r} steht in zwei Einträgen ({self._by_form[f].id}, {e.id})")
                self._by_form[f] = e

    @classmethod
    def load(cls, path: Path | str) -> NormRegister:
        path = Path(path)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = []
        for raw in data.get("normen") or []:
            missing = {"id", "norm", "gesetz", "aussage", "quelle", "geprueft", "ergebnis"} - set(raw)
            if missing:
                raise ValueError(f"{path.name}: Eintrag {raw.get('id', '?')!r} ohne {', '.join(sorted(missing))}")
            if raw["ergebnis"] not in ERGEBNISSE:
                raise ValueError(f"{path.name}: {raw['id']}: ergebnis muss eins von {sorted(ERGEBNISSE)} sein")
            entries.append(NormEntry(
                id=str(raw["id"]), norm=str(raw["norm"]), gesetz=str(raw["gesetz"]), aussage=str(raw["aussage"]),
                quelle=str(raw["quelle"]), geprueft=as_date(raw["geprueft"]), ergebnis=str(raw["ergebnis"]),
                geaendert=as_date(raw.get("geaendert")), rechtsaenderung=as_date(raw.get("rechtsaenderung")),
                zitierformen=tuple(str(x) for x in raw.get("zitierformen") or ()),
                muster=raw.get("muster") or None,
                einheiten=tuple(str(x) for x in raw.get("einheiten") or ()),
                ueberholt=tuple(Ueberholt(str(u["muster"]), str(u.get("fassung", "")), as_date(u.get("bis")))
                                for u in raw.get("ueberholt") or ()),
                anmerkung=str(raw.get("anmerkung") or "")))
        return cls(entries, path)

    @classmethod
    def default(cls) -> NormRegister | None:
        """The register shipped with the course, or None when it is not there (an installed package)."""
        path = DEFAULT_CORPUS / REGISTER_NAME
        return cls.load(path) if path.is_file() else None

    def entry_for(self, citation: str) -> NormEntry | None:
        return self._by_form.get(citation)

    def citations(self, text: str) -> list[str]:
        """What the course counts as a norm citation in a text: find_norms, plus each entry's muster."""
        found = find_norms(text)
        flat = " ".join(text.split())
        for e in self.entries:
            if e.muster and e.norm not in found and re.search(e.muster, flat):
                found.append(e.norm)
        return found

    def cited(self, text: str) -> list[NormEntry]:
        out: list[NormEntry] = []
        for c in self.citations(text):
            e = self.entry_for(c)
            if e is not None and e not in out:
                out.append(e)
        return out

    def unknown(self, text: str) -> list[str]:
        return [c for c in self.citations(text) if self.entry_for(c) is None]

    def changed_after(self, text: str, stand: Any) -> list[NormEntry]:
        """Entries cited in the text whose statement changed after the given Stand (none if it is unknown)."""
        d = as_date(stand)
        if d is None:
            return []
        return [e for e in self.cited(text) if e.geaendert is not None and e.geaendert > d]


def stand_notice(sources: Iterable[Mapping[str, Any]], register: NormRegister | None) -> str | None:
    """One German line when a cited passage is older than a change of a norm it cites; else None."""
    if register is None:
        return None
    nums: list[str] = []
    norms: list[NormEntry] = []
    for s in sources:
        changed = register.changed_after(str(s.get("text") or ""), s.get("stand"))
        if changed:
            nums.append(f"[{s.get('n')}] Stand {de_date(s.get('stand'))}")
            norms += [e for e in changed if e not in norms]
    if not norms:
        return None
    what = ", ".join(f"{e.norm} (geändert {de_date(e.geaendert)})" for e in norms)
    return (f"Achtung: Quelle {'; '.join(nums)} ist älter als die letzte Änderung zu {what}; "
            "diese Angaben können überholt sein.")


def months_before(day: dt.date, months: int) -> dt.date:
    """The same calendar day ``months`` months earlier (clamped to the month's last day)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(y, m, d)
        except ValueError:
            continue
    raise ValueError(day)


def stale_units(metadatas: Iterable[Mapping[str, Any]], months: int,
                today: dt.date | None = None) -> list[tuple[str, dt.date]]:
    """Documents in the index whose `stand` is older than ``months`` months: (title or source, stand),
    oldest first, one row per document. Documents without a `stand` are not listed; 0 months disables."""
    if months <= 0:
        return []
    cutoff = months_before(today or dt.date.today(), months)
    seen: dict[str, tuple[str, dt.date]] = {}
    for m in metadatas:
        stand = as_date(m.get("stand"))
        if stand is None or stand >= cutoff:
            continue
        key = str(m.get("doc_id") or m.get("source") or "")
        label = str(m.get("doc_id") or m.get("doc_title") or m.get("source") or "?")
        seen.setdefault(key, (label, stand))
    return sorted(seen.values(), key=lambda x: (x[1], x[0]))


# ---------------------------------------------------------------------------------------------- corpus


def unit_bodies(corpus: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """id -> (front matter, body) of every Markdown unit of a course folder."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for p in sorted(corpus.rglob("*.md")):
        if p.name.lower() == "readme.md":
            continue
        m = _FRONT.match(p.read_text(encoding="utf-8"))
        if not m:
            continue
        fm = yaml.safe_load(m.group(1)) or {}
        out[str(fm.get("id") or p.stem)] = (fm, m.group(2))
    return out


def check(register: NormRegister, corpus: Path) -> list[str]:
    """Everything wrong between register and corpus, as readable lines (empty: all fine)."""
    problems: list[str] = []
    units = unit_bodies(corpus)
    cites: dict[str, set[str]] = {e.id: set() for e in register.entries}
    for uid, (_, body) in units.items():
        for c in register.unknown(body):
            problems.append(f"{uid}: zitiert {c!r}, das nicht im Normenregister steht")
        for e in register.cited(body):
            cites[e.id].add(uid)
        for e in register.entries:
            for u in e.ueberholt:
                m = u.search(body)
                if m:
                    problems.append(f"{uid}: überholte Fassung zu {e.norm}: {m.group(0)!r}")
    for e in register.entries:
        if set(e.einheiten) != cites[e.id]:
            problems.append(f"{e.id}: einheiten {sorted(e.einheiten)} != zitiert in {sorted(cites[e.id])}")
        stale = [uid for uid in cites[e.id] if e.geaendert and (as_date(units[uid][0].get("stand")) or dt.date.min)
                 < e.geaendert]
        for uid in sorted(stale):
            problems.append(f"{uid}: Stand älter als die Änderung zu {e.norm} ({e.geaendert})")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    corpus = Path(argv[0]) if argv else DEFAULT_CORPUS
    register = NormRegister.load(corpus / REGISTER_NAME)
    problems = check(register, corpus)
    for line in problems:
        print(line)
    print(f"{len(register.entries)} Einträge, {len(problems)} Probleme")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
