"""The course as the toolkits read it: units from the corpus folder, split by their headings.

The briefing and the AI system check quote the course; they never write legal text of their own.
This module gives them exact access to it: a section by its heading path, the bullet or checklist
items of a section, the numbered questions of the Fragenkatalog, and a check that a quoted passage
(``beleg``) really stands in a unit. Raw unit ids in course text (`hilfe-leitfaden-dsfa`) are
replaced by the unit's title, so users never see an id.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..normen import DEFAULT_CORPUS, as_date, de_date

_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ID_REF = re.compile(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`")
_ITEM = re.compile(r"^\s*(?:[-*+]\s+(?:\[[ xX]\]\s+)?|(\d+)\.\s+)(.*)$")


class CourseError(ValueError):
    """The course folder is missing or a unit the toolkits need is not there (German message)."""


def flat(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Unit:
    id: str
    title: str
    typ: str
    stand: dt.date | None
    body: str
    rollen: tuple[str, ...] = ()
    sections: dict[tuple[str, ...], str] = field(default_factory=dict)  # heading path below the title -> text

    @property
    def stand_de(self) -> str:
        return de_date(self.stand)

    def section(self, *path: str) -> str:
        """Text directly under the heading path (without sub-sections); '' if there is none."""
        return self.sections.get(tuple(path), "")

    def items(self, *path: str) -> list[str]:
        """Bullet, checklist and numbered items of a section, each as one line of text."""
        return [flat(m.group(2)) for line in self.section(*path).splitlines() if (m := _ITEM.match(line))]

    def numbered(self) -> dict[int, str]:
        """All numbered items of the unit ("9. Welche personenbezogenen ...") by their number."""
        out: dict[int, str] = {}
        for text in self.sections.values():
            for line in text.splitlines():
                m = _ITEM.match(line)
                if m and m.group(1):
                    out[int(m.group(1))] = flat(m.group(2))
        return out

    def contains(self, passage: str) -> bool:
        return flat(passage) in flat(self.body)


class Course:
    def __init__(self, units: dict[str, Unit], path: Path | None = None) -> None:
        self.units = units
        self.path = path

    @classmethod
    def load(cls, corpus: Path | str | None = None) -> Course:
        path = Path(corpus) if corpus else DEFAULT_CORPUS
        if not path.is_dir():
            raise CourseError(f"Der Kursordner wurde nicht gefunden: {path}")
        units: dict[str, Unit] = {}
        for p in sorted(path.rglob("*.md")):
            if p.name.lower() == "readme.md":
                continue
            m = _FRONT.match(p.read_text(encoding="utf-8"))
            if not m:
                continue
            fm = yaml.safe_load(m.group(1)) or {}
            uid = str(fm.get("id") or p.stem)
            units[uid] = Unit(uid, str(fm.get("titel") or uid), str(fm.get("typ") or ""), as_date(fm.get("stand")),
                              m.group(2), tuple(fm.get("rollen") or ()), _sections(m.group(2)))
        if not units:
            raise CourseError(f"Im Kursordner {path} stehen keine Einheiten.")
        return cls(units, path)

    def unit(self, uid: str) -> Unit:
        try:
            return self.units[uid]
        except KeyError:
            raise CourseError(f"Die Kurseinheit „{uid}“ fehlt im Kursordner.") from None

    def title(self, uid: str) -> str:
        return self.unit(uid).title

    def readable(self, text: str) -> str:
        """Course text for users: `unit-id` references become „Titel“, Markdown emphasis is dropped."""
        def title(m: re.Match[str]) -> str:
            u = self.units.get(m.group(1))
            return f"„{u.title}“" if u else m.group(1)

        def redundant(m: re.Match[str]) -> str:  # "den Fragenkatalog ... (`hilfe-...`)": the title is there
            u = self.units.get(m.group(2))
            return m.group(1) if u and m.group(1).lower().endswith(u.title.lower()) else m.group(0)

        text = re.sub(r"(.{0,200}?)\s*\(`([a-z0-9-]+)`\)", redundant, text)
        text = _ID_REF.sub(title, text)
        return flat(re.sub(r"\*\*|__|`", "", text))

    @property
    def stand(self) -> dt.date | None:
        """The newest Stand of any unit: the course's Stand date."""
        dates = [u.stand for u in self.units.values() if u.stand]
        return max(dates) if dates else None


def _sections(body: str) -> dict[tuple[str, ...], str]:
    """Heading path below the unit title (`# ...`) -> the text directly under that heading."""
    out: dict[tuple[str, ...], list[str]] = {(): []}
    stack: list[tuple[int, str]] = []
    current: tuple[str, ...] = ()
    for line in body.splitlines():
        m = _HEADING.match(line)
        if m:
            level = len(m.group(1))
            if level == 1:
                stack, current = [], ()
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, m.group(2)))
            current = tuple(h for _, h in stack)
            out.setdefault(current, [])
            continue
        out.setdefault(current, []).append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}
