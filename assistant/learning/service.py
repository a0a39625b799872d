"""The learning service: paths, units, quizzes, progress, records and team summaries.

Routers (assistant/web/learning.py), the tutor and the CLI call this; it calls the catalog, the
quiz loader and the learning store. German messages for everything a learner can get wrong."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..roles import Role
from ..store.learning import LearnerData, LearnerNotFound, LearningStore, TeamNotFound
from ..store.sessions import _now
from .catalog import Catalog, load_catalog
from .quiz import QuizItem, load_quizzes, review_schedule
from .record import LegalNote, RecordData, RecordUnit, TeamPathRow, load_legal_note, record_pdf, team_pdf
from .team import MIN_GROUP, MemberProgress, summarize

COURSE_VERSION = "Kurs KI-Kompetenz für KMU und Handwerk"
MAX_SECONDS_PER_REPORT = 3600  # one progress report counts at most an hour of learning time
PURGE_EVERY_S = 3600

LEARNER_GONE = ("Diese Lerndaten gibt es nicht (mehr) – vielleicht wurden sie gelöscht. "
                "Bitte beginnen Sie Ihren Lernpfad neu.")
UNIT_UNKNOWN = "Diese Lerneinheit gibt es nicht."
NO_QUIZ = "Zu dieser Lerneinheit gibt es (noch) kein Quiz."
TEAM_UNKNOWN = "Zu diesem Team-Code gibt es kein Team."
TEAM_KEY_WRONG = "Der Team-Schlüssel passt nicht zu diesem Team."


class LearningError(ValueError):
    """Bad input from the learner; the message is German and safe to show."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class LearningService:
    def __init__(self, catalog: Catalog, quizzes: dict[str, list[QuizItem]], store: LearningStore,
                 legal: LegalNote) -> None:
        self.catalog = catalog
        self.quizzes = quizzes
        self.items = {it.id: it for items in quizzes.values() for it in items}
        self.store = store
        self.legal = legal
        self._last_purge = 0.0
        self._purge_lock = threading.Lock()

    @classmethod
    def build(cls, corpus_dir: Path, store: LearningStore) -> LearningService:
        catalog = load_catalog(corpus_dir)
        quizzes = load_quizzes(corpus_dir, {k: u.sections() for k, u in catalog.units.items()})
        return cls(catalog, quizzes, store, load_legal_note(corpus_dir))

    # --- course -----------------------------------------------------------------------------

    def paths(self) -> list[dict[str, Any]]:
        return [self._path_head(r) for r in Role]

    def _path_head(self, role: Role) -> dict[str, Any]:
        p = self.catalog.path(role)
        return {"role": role.value, "role_label": role.label, "titel": p.titel, "einleitung": p.einleitung,
                "units": len(p.steps), "minutes": p.minutes, "headline": headline(role, len(p.steps), p.minutes)}

    def path(self, role: Role) -> dict[str, Any]:
        p = self.catalog.path(role)
        return {**self._path_head(role), "steps": [
            {"unit_id": s.unit_id, "titel": self.catalog.units[s.unit_id].titel, "minuten": s.minuten,
             "warum": s.warum, "quiz_items": len(self.quizzes.get(s.unit_id, []))} for s in p.steps]}

    def unit(self, unit_id: str, role: Role | None = None) -> dict[str, Any]:
        u = self.catalog.units.get(unit_id)
        if u is None:
            raise LearningError(UNIT_UNKNOWN, 404)
        fragen = [q for q in u.fragen if role is None or role.value in q.rollen] or list(u.fragen)
        return {"unit_id": u.id, "titel": u.titel, "typ": u.typ, "baustein": u.baustein,
                "stand": u.stand.isoformat(), "html": u.html(),
                "fragen": [{"frage": q.frage, "rollen": list(q.rollen), "abschnitt": q.abschnitt,
                            "anchor": anchor_of(q.abschnitt)} for q in fragen],
                "quiz_items": len(self.quizzes.get(u.id, []))}

    def quiz(self, unit_id: str) -> dict[str, Any]:
        if unit_id not in self.catalog.units:
            raise LearningError(UNIT_UNKNOWN, 404)
        items = self.quizzes.get(unit_id)
        if not items:
            raise LearningError(NO_QUIZ, 404)
        return {"unit_id": unit_id, "titel": self.catalog.units[unit_id].titel, "items": [it.public() for it in items]}

    # --- learners ---------------------------------------------------------------------------

    def create_learner(self, role: Role, display_name: str | None) -> dict[str, Any]:
        self._maybe_purge()
        learner = self.store.create_learner(role.value, display_name)
        return {"learner_id": learner.id, "role": learner.role, "display_name": learner.display_name,
                "retention_days": self.store.retention_days}

    def _data(self, learner_id: str) -> LearnerData:
        try:
            return self.store.data(learner_id)
        except LearnerNotFound:
            raise LearningError(LEARNER_GONE, 404) from None

    def update_learner(self, learner_id: str, role: Role | None, display_name: str | None,
                       clear_name: bool) -> dict[str, Any]:
        try:
            self.store.update_learner(learner_id, role.value if role else None, display_name, clear_name)
        except LearnerNotFound:
            raise LearningError(LEARNER_GONE, 404) from None
        return self.progress(learner_id)

    def delete_learner(self, learner_id: str) -> None:
        try:
            self.store.delete_learner(learner_id)
        except LearnerNotFound:
            raise LearningError(LEARNER_GONE, 404) from None

    def export(self, learner_id: str) -> dict[str, Any]:
        d = self._data(learner_id)
        iso = lambda t: t.isoformat() + "Z"  # noqa: E731
        return {"learner_id": d.learner.id, "role": d.learner.role, "display_name": d.learner.display_name,
                "team": d.team_name, "created_at": iso(d.learner.created_at),
                "updated_at": iso(d.learner.updated_at), "retention_days": self.store.retention_days,
                "events": [{"unit_id": e.unit_id, "kind": e.kind, "seconds": e.seconds, "at": iso(e.at)}
                           for e in d.events],
                "attempts": [{"unit_id": a.unit_id, "item_id": a.item_id, "correct": a.correct, "answer": a.answer,
                              "review": a.review, "at": iso(a.at)} for a in d.attempts],
                "records": [{"verification_id": r.id, "issued_at": iso(r.created_at)} for r in d.records]}

    # --- progress ---------------------------------------------------------------------------

    def record_event(self, learner_id: str, unit_id: str, kind: str, seconds: int) -> dict[str, Any]:
        if unit_id not in self.catalog.units:
            raise LearningError(UNIT_UNKNOWN, 404)
        try:
            self.store.add_event(learner_id, unit_id, kind, min(max(seconds, 0), MAX_SECONDS_PER_REPORT))
        except LearnerNotFound:
            raise LearningError(LEARNER_GONE, 404) from None
        return self.progress(learner_id)

    def submit(self, learner_id: str, answers: dict[str, Any], review: bool = False,
               now: datetime | None = None) -> dict[str, Any]:
        """Score the answers (item id -> answer); a quiz answered outside review completes its unit."""
        d = self._data(learner_id)
        results, rows = [], []
        for item_id, answer in answers.items():
            item = self.items.get(item_id)
            if item is None:
                raise LearningError("Eine der Fragen gibt es nicht (unbekannte Frage-ID).")
            ok = item.check(answer)
            if ok is None:
                short = item.frage if len(item.frage) <= 60 else item.frage[:59].rstrip() + "…"
                raise LearningError(f"Die Antwort auf die Frage „{short}“ passt nicht zur Frageart "
                                    f"({ANSWER_HINT[item.typ]}).")
            rows.append((item.unit_id, item.id, ok, answer))
            results.append({"item_id": item.id, "correct": ok, "richtig": item.solution(),
                            "erklaerung": item.erklaerung, "abschnitt": item.abschnitt,
                            "link": f"/lernen/?einheit={item.unit_id}#{anchor_of(item.abschnitt)}",
                            "unit_id": item.unit_id})
        if not rows:
            raise LearningError("Bitte beantworten Sie mindestens eine Frage.")
        units = {r[0] for r in rows}
        if not review and len(units) != 1:
            raise LearningError("Ein Quiz gehört zu genau einer Lerneinheit.")
        self.store.add_attempts(learner_id, rows, review, at=now)
        if not review:
            unit_id = next(iter(units))
            done = {e.unit_id for e in d.events if e.kind == "completed"}
            if unit_id not in done:
                self.store.add_event(learner_id, unit_id, "completed")
        correct = sum(r["correct"] for r in results)
        return {"correct": correct, "total": len(results), "results": results,
                "progress": self.progress(learner_id, now=now)}

    def progress(self, learner_id: str, now: datetime | None = None) -> dict[str, Any]:
        d = self._data(learner_id)
        now = now or _now()
        role = Role(d.learner.role)
        opened = _first(d, "opened")
        completed = _first(d, "completed")
        seconds = _seconds(d)
        path = self.catalog.path(role)
        steps = []
        for s in path.steps:
            q = self._quiz_result(d, s.unit_id)
            steps.append({"unit_id": s.unit_id, "titel": self.catalog.units[s.unit_id].titel, "minuten": s.minuten,
                          "warum": s.warum, "quiz_items": len(self.quizzes.get(s.unit_id, [])),
                          "opened_at": _iso(opened.get(s.unit_id)), "completed_at": _iso(completed.get(s.unit_id)),
                          "seconds": seconds.get(s.unit_id, 0), "quiz": q})
        sched = review_schedule([(a.item_id, a.correct, a.at) for a in d.attempts if a.item_id in self.items])
        due = sorted((r for r in sched.values() if r.due_at <= now), key=lambda r: r.due_at)
        later = sorted((r for r in sched.values() if r.due_at > now), key=lambda r: r.due_at)
        return {"learner_id": d.learner.id, "role": role.value, "role_label": role.label,
                "display_name": d.learner.display_name, "team": d.team_name,
                "path": {**self._path_head(role), "steps": steps,
                         "completed": sum(1 for s in path.steps if s.unit_id in completed)},
                "completed_units": len(completed), "total_seconds": sum(seconds.values()),
                "reviews": {"due": [{**self.items[r.item_id].public(), "stage": r.stage, "due_at": _iso(r.due_at)}
                                    for r in due],
                            "later": [{"item_id": r.item_id, "unit_id": self.items[r.item_id].unit_id,
                                       "stage": r.stage, "due_at": _iso(r.due_at)} for r in later]}}

    def _quiz_result(self, d: LearnerData, unit_id: str) -> dict[str, Any] | None:
        """The learner's last quiz on the unit (not reviews): correct of total."""
        by_time: dict[datetime, list[bool]] = {}
        for a in d.attempts:
            if a.unit_id == unit_id and not a.review:
                by_time.setdefault(a.at, []).append(a.correct)
        if not by_time:
            return None
        last = by_time[max(by_time)]
        return {"correct": sum(last), "total": len(last), "attempts": len(by_time)}

    # --- record -----------------------------------------------------------------------------

    def record(self, learner_id: str, today: dt.date | None = None) -> tuple[bytes, str]:
        d = self._data(learner_id)
        role = Role(d.learner.role)
        path = self.catalog.path(role)
        completed = _first(d, "completed")
        seconds = _seconds(d)
        order = {s.unit_id: i for i, s in enumerate(path.steps)}
        units, right, asked = [], 0, 0
        for uid in sorted(completed, key=lambda u: (order.get(u, 999), completed[u])):
            q = self._quiz_result(d, uid)
            if q:
                right, asked = right + q["correct"], asked + q["total"]
            units.append(RecordUnit(self.catalog.units[uid].titel if uid in self.catalog.units else uid,
                                    completed[uid].date(), f"{q['correct']} von {q['total']} richtig" if q else "–",
                                    round(seconds.get(uid, 0) / 60)))
        summary = {"display_name": d.learner.display_name, "role": role.value, "path": path.titel,
                   "completed_units": len(units), "total_minutes": round(sum(seconds.values()) / 60),
                   "quiz": [right, asked], "course_stand": self.catalog.course_stand.isoformat()}
        digest = json.dumps({**summary, "units": [[u.titel, str(u.completed_on), u.quiz] for u in units]},
                            ensure_ascii=False, sort_keys=True)
        rec = self.store.issue_record(learner_id, summary, digest)
        data = RecordData(
            verification_id=rec.id, issued_on=today or rec.created_at.date(), display_name=d.learner.display_name,
            role_label=role.label, path_title=path.titel, path_units=len(path.steps), units=units,
            total_minutes=summary["total_minutes"],
            quiz_total=(f"{right} von {asked} Fragen richtig beantwortet (jeweils letzter Versuch)" if asked
                        else "noch kein Quiz bearbeitet"),
            course_version=COURSE_VERSION, course_stand=self.catalog.course_stand, legal=self.legal,
            started_on=d.learner.created_at.date())
        return record_pdf(data), rec.id

    def verify(self, record_id: str) -> dict[str, Any]:
        rec = self.store.find_record(record_id.upper()) if record_id else None
        if rec is None:
            raise LearningError("Zu dieser Prüf-ID gibt es keinen Nachweis (mehr).", 404)
        s = rec.summary or {}
        return {"verification_id": rec.id, "issued_at": rec.created_at.isoformat() + "Z",
                "display_name": s.get("display_name"), "path": s.get("path"),
                "completed_units": s.get("completed_units"), "total_minutes": s.get("total_minutes"),
                "sha256": rec.sha256}

    # --- teams ------------------------------------------------------------------------------

    def create_team(self, name: str) -> dict[str, Any]:
        team, key = self.store.create_team(name)
        return {"team_code": team.code, "owner_key": key, "name": team.name, "min_group": MIN_GROUP}

    def join_team(self, learner_id: str, code: str | None) -> dict[str, Any]:
        try:
            self.store.join_team(learner_id, code)
        except TeamNotFound:
            raise LearningError(TEAM_UNKNOWN, 404) from None
        except LearnerNotFound:
            raise LearningError(LEARNER_GONE, 404) from None
        return self.progress(learner_id)

    def _team(self, code: str, key: str):  # noqa: ANN202
        try:
            team = self.store.team_by_code(code)
        except TeamNotFound:
            raise LearningError(TEAM_UNKNOWN, 404) from None
        if not self.store.owner_key_ok(team, key):
            raise LearningError(TEAM_KEY_WRONG, 403)
        return team

    def team_summary(self, code: str, key: str) -> dict[str, Any]:
        team = self._team(code, key)
        members = [MemberProgress(m.learner.role, frozenset(_first(m, "completed")), frozenset(_first(m, "opened")))
                   for m in self.store.team_members(team.id)]
        return {"team": team.name, "team_code": team.code, **summarize(self.catalog, members)}

    def team_record(self, code: str, key: str, today: dt.date | None = None) -> bytes:
        s = self.team_summary(code, key)
        rows = [TeamPathRow(p["titel"], p["members"], p["started"], p["completed"],
                            [(u["titel"], u["completion_rate"]) for u in p["units"]]) for p in s["paths"]]
        return team_pdf(s["team"], today or _now().date(), s["members"], s["min_group"], rows, COURSE_VERSION,
                        self.catalog.course_stand, self.legal)

    # --- housekeeping -----------------------------------------------------------------------

    def _maybe_purge(self) -> None:
        with self._purge_lock:
            if time.monotonic() - self._last_purge < PURGE_EVERY_S and self._last_purge:
                return
            self._last_purge = time.monotonic()
        self.store.purge_expired()


ANSWER_HINT = {"einfach": "genau eine Option, z. B. [1]", "mehrfach": "eine Liste von Optionen, z. B. [0, 2]",
               "wahr_falsch": "true oder false"}


def headline(role: Role, units: int, minutes: int) -> str:
    hours = minutes / 60
    time_de = f"ca. {round(hours)} Stunden" if hours >= 1.75 else f"ca. {minutes} Minuten"
    return f"Ihr Lernpfad als {ROLE_AS[role]}: {units} Einheiten, {time_de}"


ROLE_AS = {Role.owner: "Geschäftsführung", Role.employee: "Beschäftigte oder Beschäftigter",
           Role.works_council: "Betriebsrat", Role.consultant: "Beraterin oder Berater"}


def anchor_of(abschnitt: str) -> str:
    from .catalog import anchor

    return anchor(abschnitt)


def _first(d: LearnerData, kind: str) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for e in d.events:
        if e.kind == kind and e.unit_id not in out:
            out[e.unit_id] = e.at
    return out


def _seconds(d: LearnerData) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in d.events:
        out[e.unit_id] = out.get(e.unit_id, 0) + (e.seconds or 0)
    return out


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() + "Z" if t else None
