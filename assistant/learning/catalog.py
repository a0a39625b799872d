"""The course as something to learn along: units read from corpus/*.md, role paths from
corpus/_lernpfade.yaml. Read straight from the files (not from the index): the reading view shows
the unit as written, and the learning API works before anything was ingested."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from ..roles import Role

PATHS_FILE = "_lernpfade.yaml"
LEARNABLE = ("lernsequenz", "ueberblick")
HEADING_SEP = " › "
_FRONT = re.compile(r"---\n(.*?)\n---\n(.*)", re.S)
_TRANS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


class CatalogError(ValueError):
    """The paths file or a unit is broken; the message is German and names the file."""


def anchor(heading_path: str) -> str:
    """Stable HTML id of a section ("Was das für Sie heißt › Betriebsrat" -> "a-was-das-fuer-sie-heisst-betriebsrat")."""
    return "a-" + re.sub(r"[^a-z0-9]+", "-", heading_path.translate(_TRANS).lower()).strip("-")


@dataclass(frozen=True)
class AuthoredQuestion:
    frage: str
    rollen: tuple[str, ...]
    abschnitt: str
    beleg: str


@dataclass
class Unit:
    id: str
    titel: str
    typ: str
    baustein: str
    stand: dt.date
    rollen: tuple[str, ...]
    body: str  # Markdown without front matter and without the title line
    fragen: list[AuthoredQuestion] = field(default_factory=list)

    def html(self) -> str:
        return render_unit_html(self.body)

    def sections(self) -> list[str]:
        """Heading paths below the title, in order ("Worum geht es?", "Was das für Sie heißt › Beratung")."""
        out, h2 = [], None
        for line in self.body.splitlines():
            if m := re.match(r"^## (.+?)\s*$", line):
                h2 = m.group(1)
                out.append(h2)
            elif (m := re.match(r"^### (.+?)\s*$", line)) and h2:
                out.append(f"{h2}{HEADING_SEP}{m.group(1)}")
        return out


@dataclass(frozen=True)
class PathStep:
    unit_id: str
    minuten: int
    warum: str


@dataclass(frozen=True)
class LearningPath:
    role: Role
    titel: str
    einleitung: str
    steps: tuple[PathStep, ...]

    @property
    def minutes(self) -> int:
        return sum(s.minuten for s in self.steps)


@dataclass
class Catalog:
    units: dict[str, Unit]
    paths: dict[Role, LearningPath]
    stand: dt.date  # Stand of the paths file
    corpus_dir: Path

    def path(self, role: Role) -> LearningPath:
        return self.paths[role]

    @property
    def course_stand(self) -> dt.date:
        """The newest Stand of any unit on a path: the course version a record names."""
        return max([self.stand] + [self.units[s.unit_id].stand for p in self.paths.values() for s in p.steps])


def _unit(path: Path) -> Unit | None:
    m = _FRONT.match(path.read_text(encoding="utf-8"))
    if not m:
        return None
    fm: dict[str, Any] = yaml.safe_load(m.group(1)) or {}
    if fm.get("typ") not in LEARNABLE:
        return None
    body = re.sub(r"\A\s*# .*\n", "", m.group(2), count=1)
    fragen = [AuthoredQuestion(str(q["frage"]), tuple(q.get("rollen") or ()), str(q.get("abschnitt") or ""),
                               str(q.get("beleg") or "")) for q in fm.get("fragen") or [] if isinstance(q, dict)]
    stand = fm.get("stand")
    return Unit(id=str(fm["id"]), titel=str(fm["titel"]), typ=fm["typ"], baustein=str(fm.get("baustein", "")),
                stand=stand if isinstance(stand, dt.date) else dt.date.fromisoformat(str(stand)),
                rollen=tuple(fm.get("rollen") or ()), body=body, fragen=fragen)


def load_catalog(corpus_dir: Path) -> Catalog:
    units: dict[str, Unit] = {}
    for p in sorted(corpus_dir.rglob("*.md")):
        if p.name.startswith("_") or p.name == "README.md":
            continue
        u = _unit(p)
        if u is not None:
            units[u.id] = u
    return Catalog(units, *_load_paths(corpus_dir / PATHS_FILE, units), corpus_dir)


def _load_paths(file: Path, units: dict[str, Unit]) -> tuple[dict[Role, LearningPath], dt.date]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise CatalogError(f"{file.name}: Lernpfade nicht lesbar ({type(e).__name__}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("pfade"), dict):
        raise CatalogError(f"{file.name}: Schlüssel „pfade“ fehlt.")
    stand = data.get("stand")
    if not isinstance(stand, dt.date):
        raise CatalogError(f"{file.name}: „stand“ muss ein Datum JJJJ-MM-TT sein.")
    paths: dict[Role, LearningPath] = {}
    for key, p in data["pfade"].items():
        try:
            role = Role(key)
        except ValueError:
            raise CatalogError(f"{file.name}: unbekannte Rolle „{key}“.") from None
        steps = []
        for s in (p or {}).get("einheiten") or []:
            uid = str(s.get("id"))
            if uid not in units:
                raise CatalogError(f"{file.name}: Einheit „{uid}“ im Lernpfad {key} gibt es nicht.")
            minuten = s.get("minuten")
            if not isinstance(minuten, int) or not 1 <= minuten <= 240:
                raise CatalogError(f"{file.name}: „minuten“ von {uid} ({key}) muss eine ganze Zahl 1–240 sein.")
            if not str(s.get("warum") or "").strip():
                raise CatalogError(f"{file.name}: „warum“ fehlt bei {uid} ({key}).")
            steps.append(PathStep(uid, minuten, str(s["warum"]).strip()))
        if not steps:
            raise CatalogError(f"{file.name}: Lernpfad {key} hat keine Einheiten.")
        if len({s.unit_id for s in steps}) != len(steps):
            raise CatalogError(f"{file.name}: eine Einheit steht zweimal im Lernpfad {key}.")
        paths[role] = LearningPath(role, str(p.get("titel") or f"Lernpfad {role.label}"),
                                   str(p.get("einleitung") or ""), tuple(steps))
    missing = [r.value for r in Role if r not in paths]
    if missing:
        raise CatalogError(f"{file.name}: kein Lernpfad für {', '.join(missing)}.")
    return paths, stand


# --- rendering: course Markdown as safe HTML, headings with stable ids ------------------------

def _md() -> MarkdownIt:
    # raw HTML is shown as text; links and images are not recognised (same rules as the tutor)
    return (MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
            .enable("table").disable(["link", "image", "autolink", "reference"]))


def render_unit_html(body: str) -> str:
    md = _md()
    tokens = md.parse(body)
    h2 = None
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag in ("h2", "h3") and i + 1 < len(tokens):
            text = tokens[i + 1].content
            if tok.tag == "h2":
                h2, path = text, text
            else:
                path = f"{h2}{HEADING_SEP}{text}" if h2 else text
            tok.attrSet("id", anchor(path))
    return md.renderer.render(tokens, md.options, {})
