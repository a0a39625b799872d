"""Quiz items (corpus/_quiz/<unit-id>.yaml), scoring, and the spaced review of wrong answers.

Schema of a file: ``einheit`` (unit id), ``stand`` (date), ``fragen``: items with ``id``, ``typ``
(``einfach`` | ``mehrfach`` | ``wahr_falsch``), ``frage``, ``optionen`` (choice types), ``richtig``
(list of option indices, or true/false), ``erklaerung``, ``abschnitt`` (heading path of the unit),
``beleg`` (a phrase of that section)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

QUIZ_DIR = "_quiz"
TYPES = ("einfach", "mehrfach", "wahr_falsch")
REVIEW_AFTER_DAYS = (1, 7)  # a wrong answer comes back after 1 day; answered right then, once more after 7


class QuizError(ValueError):
    """A quiz file breaks the schema; German message naming file and item."""


@dataclass(frozen=True)
class QuizItem:
    id: str
    unit_id: str
    typ: str
    frage: str
    optionen: tuple[str, ...]
    richtig: tuple[int, ...] | bool
    erklaerung: str
    abschnitt: str
    beleg: str

    def public(self) -> dict[str, Any]:
        """What the learner sees before answering (never the solution)."""
        out: dict[str, Any] = {"id": self.id, "unit_id": self.unit_id, "typ": self.typ, "frage": self.frage}
        out["optionen"] = list(self.optionen) if self.typ != "wahr_falsch" else ["Wahr", "Falsch"]
        return out

    def solution(self) -> list[int] | bool:
        return self.richtig if isinstance(self.richtig, bool) else list(self.richtig)

    def check(self, answer: Any) -> bool | None:
        """True/False for a well-formed answer, None when the answer does not fit the item."""
        if self.typ == "wahr_falsch":
            if isinstance(answer, bool):
                return answer is self.richtig
            if isinstance(answer, list) and len(answer) == 1 and answer[0] in (0, 1) and not isinstance(answer[0], bool):
                return (answer[0] == 0) is self.richtig  # option 0 = "Wahr"
            return None
        if isinstance(answer, int) and not isinstance(answer, bool):
            answer = [answer]
        if not isinstance(answer, list) or not answer or any(
                isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < len(self.optionen) for a in answer):
            return None
        if self.typ == "einfach" and len(answer) != 1:
            return None
        return sorted(set(answer)) == sorted(self.richtig)


def load_quizzes(corpus_dir: Path, unit_sections: dict[str, list[str]] | None = None) -> dict[str, list[QuizItem]]:
    """unit id -> items. ``unit_sections`` (unit id -> heading paths) also checks ``einheit`` and ``abschnitt``."""
    out: dict[str, list[QuizItem]] = {}
    seen: set[str] = set()
    for f in sorted((corpus_dir / QUIZ_DIR).glob("*.yaml")):
        items = parse_quiz_file(f, unit_sections)
        for it in items:
            if it.id in seen:
                raise QuizError(f"{f.name}: Frage-ID „{it.id}“ kommt mehrfach vor.")
            seen.add(it.id)
        out[items[0].unit_id] = items
    return out


def parse_quiz_file(f: Path, unit_sections: dict[str, list[str]] | None = None) -> list[QuizItem]:
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise QuizError(f"{f.name}: nicht lesbar ({type(e).__name__}).") from None
    if not isinstance(data, dict):
        raise QuizError(f"{f.name}: erwartet werden die Schlüssel einheit, stand, fragen.")
    unit = data.get("einheit")
    if unit != f.stem:
        raise QuizError(f"{f.name}: „einheit“ muss dem Dateinamen entsprechen.")
    if unit_sections is not None and unit not in unit_sections:
        raise QuizError(f"{f.name}: Einheit „{unit}“ gibt es nicht.")
    if not isinstance(data.get("stand"), dt.date):
        raise QuizError(f"{f.name}: „stand“ muss ein Datum JJJJ-MM-TT sein.")
    raw = data.get("fragen")
    if not isinstance(raw, list) or not 3 <= len(raw) <= 5:
        raise QuizError(f"{f.name}: 3 bis 5 Fragen erwartet.")
    return [_item(f.name, unit, q, unit_sections) for q in raw]


def _item(name: str, unit: str, q: Any, unit_sections: dict[str, list[str]] | None) -> QuizItem:
    if not isinstance(q, dict):
        raise QuizError(f"{name}: jede Frage muss ein Eintrag mit Schlüsseln sein.")
    qid = str(q.get("id") or "")
    where = f"{name}, Frage „{qid or '?'}“"
    extra = set(q) - {"id", "typ", "frage", "optionen", "richtig", "erklaerung", "abschnitt", "beleg"}
    if extra:
        raise QuizError(f"{where}: unbekannte Schlüssel {', '.join(sorted(map(str, extra)))}.")
    if not qid.startswith(unit + "-"):
        raise QuizError(f"{where}: die ID muss mit der Einheit beginnen.")
    typ = q.get("typ")
    if typ not in TYPES:
        raise QuizError(f"{where}: „typ“ muss einfach, mehrfach oder wahr_falsch sein.")
    for key in ("frage", "erklaerung", "abschnitt", "beleg"):
        if not isinstance(q.get(key), str) or not q[key].strip():
            raise QuizError(f"{where}: „{key}“ fehlt.")
    richtig = q.get("richtig")
    optionen: tuple[str, ...] = ()
    if typ == "wahr_falsch":
        if not isinstance(richtig, bool) or "optionen" in q:
            raise QuizError(f"{where}: wahr_falsch braucht richtig: true/false und keine optionen.")
    else:
        opts = q.get("optionen")
        if not isinstance(opts, list) or not 2 <= len(opts) <= 6 or not all(isinstance(o, str) and o.strip()
                                                                             for o in opts):
            raise QuizError(f"{where}: 2 bis 6 Antwortoptionen (Text) erwartet.")
        if len(set(opts)) != len(opts):
            raise QuizError(f"{where}: Antwortoptionen doppelt.")
        optionen = tuple(opts)
        if (not isinstance(richtig, list) or not richtig or len(set(richtig)) != len(richtig)
                or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(opts) for i in richtig)):
            raise QuizError(f"{where}: „richtig“ muss eine Liste gültiger Options-Nummern (ab 0) sein.")
        if typ == "einfach" and len(richtig) != 1:
            raise QuizError(f"{where}: bei einfach ist genau eine Option richtig.")
        if typ == "mehrfach" and len(richtig) == len(opts):
            raise QuizError(f"{where}: bei mehrfach darf nicht jede Option richtig sein.")
        richtig = tuple(sorted(richtig))
    if unit_sections is not None and q["abschnitt"] not in unit_sections[unit]:
        raise QuizError(f"{where}: Abschnitt „{q['abschnitt']}“ gibt es in der Einheit nicht.")
    return QuizItem(qid, unit, typ, q["frage"].strip(), optionen, richtig, q["erklaerung"].strip(),
                    q["abschnitt"].strip(), q["beleg"].strip())


# --- spaced review ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Review:
    item_id: str
    stage: int          # 0: first review (after 1 day), 1: second (after 7 days)
    due_at: datetime


def review_schedule(attempts: list[tuple[str, bool, datetime]]) -> dict[str, Review]:
    """Reviews still open, from the attempts (item id, correct, when) in time order.

    A wrong answer schedules a review after REVIEW_AFTER_DAYS[0]; a right answer to a pending
    review moves it to the next interval, after the last it is done. A wrong answer starts over.
    A right answer with no pending review (the item was never wrong) schedules nothing."""
    open_: dict[str, Review] = {}
    for item_id, correct, at in sorted(attempts, key=lambda a: a[2]):
        pending = open_.get(item_id)
        if not correct:
            open_[item_id] = Review(item_id, 0, at + timedelta(days=REVIEW_AFTER_DAYS[0]))
        elif pending is not None:
            if at < pending.due_at:
                continue  # answered again before it was due: the review still stands
            nxt = pending.stage + 1
            if nxt < len(REVIEW_AFTER_DAYS):
                open_[item_id] = Review(item_id, nxt, at + timedelta(days=REVIEW_AFTER_DAYS[nxt]))
            else:
                del open_[item_id]
    return open_
