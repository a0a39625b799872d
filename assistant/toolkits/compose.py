"""Building blocks both documents share: the notice, citations, legal points, questions, aids.

Every text here is either quoted from the course (through ``Course``) or a neutral German frame
around it ("Anlass: ...", "Quelle: ..."). Citations name units by their title and Stand, never by id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from ..normen import de_date
from .course import Course
from .document import Item, Section
from .rules import BEREICHE, Finding

FRAGENKATALOG = "hilfe-fragen-an-den-arbeitgeber"
CHECKLISTE_BV = "hilfe-checkliste-betriebsvereinbarung"
HINWEIS = ("Hinweis: Dieses Dokument dient der Orientierung und ist keine Rechtsberatung. Es gibt die "
           "Kursunterlagen des KI-Lernbegleiters wieder, Stand der Kursinhalte und ihrer rechtlichen Prüfung: {stand}. "
           "Maßgeblich sind die Gesetzestexte; im Einzelfall hilft eine fachkundige Beratung.")
_QUESTION = re.compile(r"[^.?!:]*\?")


def hinweis(stand: dt.date) -> str:
    return HINWEIS.format(stand=de_date(stand))


def quelle(course: Course, uid: str, where: str = "") -> str:
    u = course.unit(uid)
    at = f", Abschnitt „{where}“" if where else ""
    return f"„{u.title}“{at} (Stand: {u.stand_de})"


def legal_items(course: Course, findings: Iterable[Finding], *, rule_stand: bool = True) -> list[Item]:
    items = []
    for f in findings:
        main, *more = f.passages
        details = [f"{course.readable(p.beleg)} (Quelle: {quelle(course, p.quelle)})" if p.quelle != main.quelle
                   else course.readable(p.beleg) for p in more]
        q = quelle(course, main.quelle)
        if rule_stand:
            q += f"; Regel Stand: {de_date(f.rule.stand)}"
        items.append(Item(text=course.readable(main.beleg), label=f.entry.norm, anlass="; ".join(f.anlass),
                          quelle=q, details=details))
    return items


def legal_sections(course: Course, findings: list[Finding], order: Iterable[str] = BEREICHE) -> list[Section]:
    out = []
    for key in order:
        own = [f for f in findings if f.rule.bereich == key]
        if own:
            out.append(Section(BEREICHE[key], legal_items(course, own)))
    return out


def fragenkatalog(course: Course, numbers: Iterable[int]) -> list[Item]:
    """Questions of the Fragenkatalog des Betriebsrats, by their number there."""
    unit = course.unit(FRAGENKATALOG)
    qs = unit.numbered()
    out = []
    for n in sorted(set(numbers)):
        if n in qs:
            out.append(Item(text=course.readable(qs[n]), label=f"Frage {n}",
                            quelle=quelle(course, FRAGENKATALOG)))
    return out


def checklist(course: Course, sections: Iterable[str]) -> list[Section]:
    """Sections of the Checkliste Betriebsvereinbarung KI, each with its items, in the checklist's order."""
    unit = course.unit(CHECKLISTE_BV)
    wanted = set(sections)
    out = []
    for path in unit.sections:
        if len(path) == 1 and path[0] in wanted:
            items = [Item(text=course.readable(t)) for t in unit.items(path[0])]
            if items:
                out.append(Section(path[0].removeprefix("Checkliste ").strip(), items))
    return out


def purpose(course: Course, uid: str) -> str:
    """What an Umsetzungshilfe is for: the first two sentences of "Wofür ist diese Hilfe?"."""
    text = course.unit(uid).section("Wofür ist diese Hilfe?")
    sentences = re.split(r"(?<=[.!?])\s+", course.readable(text))
    return " ".join(sentences[:2])


def aids(course: Course, ids: Iterable[str]) -> list[Item]:
    out, seen = [], set()
    for uid in ids:
        if uid in seen or uid not in course.units:
            continue
        seen.add(uid)
        out.append(Item(text=purpose(course, uid), label=course.title(uid),
                        quelle=f"Umsetzungshilfe im Kurs (Stand: {course.unit(uid).stand_de})"))
    return out


def questions_in(text: str) -> list[str]:
    """The questions of a course paragraph ("Fragen Sie: A? B?" -> ["A?", "B?"])."""
    out = []
    for m in _QUESTION.finditer(text):
        q = m.group(0).strip()
        q = re.sub(r"^(?:Hilfreiche Fragen sind|Fragen Sie[^:]*|[^:]{0,40}Fragen[^:]{0,40}):\s*", "", q).strip()
        if q and q[0].isupper() and len(q) > 12:
            out.append(q)
    return out


def unique(items: Iterable[Item]) -> list[Item]:
    seen, out = set(), []
    for i in items:
        key = i.text.lower()
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out
