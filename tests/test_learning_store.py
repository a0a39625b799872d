"""The learning store and service on SQLite and on a real PostgreSQL: progress, attempts, spaced review,
export and deletion, records with verification ids, teams with the minimum group size, purge."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from assistant.learning.service import LearningError, LearningService
from assistant.roles import Role
from assistant.store.learning import (IssuedRecord, Learner, LearnerNotFound, LearningStore, QuizAttempt, UnitEvent,
                                      engine_for)
from assistant.store.sessions import SessionStore, _now

from .conftest import CORPUS, free_port
from .pg import MISSING, pg_bin, postgres_server

UNIT = "grundlagen-01-grundlagen-der-ki"
TABLES = "lb_records, lb_quiz_attempts, lb_unit_events, lb_learners, lb_teams"


@pytest.fixture(scope="module")
def pg_url():
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING + " — CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip(MISSING)
    with postgres_server(free_port()) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        # the app shares the chat session store's engine: the learning tables live in the same database
        sessions = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
        engine = sessions.engine
    else:
        from sqlalchemy import text

        url = request.getfixturevalue("pg_url")
        engine = engine_for(url)
        with engine.begin() as c:  # each test starts from empty tables
            c.execute(text(f"DROP TABLE IF EXISTS {TABLES}"))
    s = LearningStore(engine, retention_days=730)
    yield s
    engine.dispose()


@pytest.fixture
def svc(store):
    return LearningService.build(CORPUS, store)


def _count(store, model, learner_id=None) -> int:
    with store._db() as db:
        q = select(func.count()).select_from(model)
        if learner_id is not None:
            q = q.where((model.id if model is Learner else model.learner_id) == learner_id)
        return db.scalar(q) or 0


def test_progress_quiz_and_review_cycle(svc):
    lid = svc.create_learner(Role.works_council, "Erika Muster")["learner_id"]
    svc.record_event(lid, UNIT, "opened", 0)
    svc.record_event(lid, UNIT, "time", 7 * 60)
    items = svc.quiz(UNIT)["items"]
    first = items[0]
    wrong = _wrong_answer(svc, first["id"])
    t0 = _now()
    res = svc.submit(lid, {first["id"]: wrong, items[1]["id"]: svc.items[items[1]["id"]].solution()}, now=t0)
    assert (res["correct"], res["total"]) == (1, 2)
    bad = next(r for r in res["results"] if not r["correct"])
    assert bad["erklaerung"] and bad["link"].startswith(f"/lernen/?einheit={UNIT}#a-")
    p = res["progress"]
    assert p["path"]["completed"] == 1 and p["total_seconds"] == 7 * 60  # the quiz completes the unit
    step = next(s for s in p["path"]["steps"] if s["unit_id"] == UNIT)
    assert step["quiz"] == {"correct": 1, "total": 2, "attempts": 1} and step["opened_at"] and step["completed_at"]
    assert p["reviews"]["due"] == [] and [r["item_id"] for r in p["reviews"]["later"]] == [first["id"]]
    # a day later the wrong item is due, without its solution
    later = svc.progress(lid, now=t0 + timedelta(days=1, minutes=1))
    assert [r["id"] for r in later["reviews"]["due"]] == [first["id"]] and "richtig" not in later["reviews"]["due"][0]
    # answered right in review: back after seven days, then done
    svc.submit(lid, {first["id"]: svc.items[first["id"]].solution()}, review=True, now=t0 + timedelta(days=1, minutes=2))
    p = svc.progress(lid, now=t0 + timedelta(days=2))
    assert p["reviews"]["due"] == [] and p["reviews"]["later"][0]["stage"] == 1
    svc.submit(lid, {first["id"]: svc.items[first["id"]].solution()}, review=True, now=t0 + timedelta(days=9))
    p = svc.progress(lid, now=t0 + timedelta(days=30))
    assert p["reviews"] == {"due": [], "later": []}
    assert svc.progress(lid)["path"]["steps"][0]["quiz"]["attempts"] == 1  # reviews are not quiz attempts


def _wrong_answer(svc, item_id):
    it = svc.items[item_id]
    if it.typ == "wahr_falsch":
        return not it.richtig
    return [next(i for i in range(len(it.optionen)) if i not in it.richtig)]


def test_bad_answers_are_refused_in_german_and_store_nothing(svc, store):
    lid = svc.create_learner(Role.owner, None)["learner_id"]
    item = svc.quiz(UNIT)["items"][0]["id"]
    for answers, msg in [({"gibt-es-nicht-1": [0]}, "unbekannte Frage-ID"),
                         ({item: [0, 1, 2, 3, 4, 5]}, "passt nicht zur Frageart"),
                         ({}, "mindestens eine Frage"),
                         ({item: [0], "fuehrung-01-strategie-1": [0]}, "genau einer Lerneinheit")]:
        with pytest.raises(LearningError, match=msg):
            svc.submit(lid, answers)
    assert _count(store, QuizAttempt, lid) == 0
    with pytest.raises(LearningError, match="Lerneinheit gibt es nicht") as e:
        svc.record_event(lid, "gibt-es-nicht", "opened", 0)
    assert e.value.status == 404
    with pytest.raises(LearningError, match="Lerndaten gibt es nicht"):
        svc.progress("unbekannt")


def test_export_and_delete_erase_every_row(svc, store):
    lid = svc.create_learner(Role.employee, "Max")["learner_id"]
    other = svc.create_learner(Role.employee, None)["learner_id"]
    for who in (lid, other):
        svc.record_event(who, UNIT, "opened", 30)
        svc.submit(who, {svc.quiz(UNIT)["items"][0]["id"]: [0]})
    svc.record(lid)
    exp = svc.export(lid)
    assert exp["display_name"] == "Max" and exp["role"] == "employee"
    assert {e["kind"] for e in exp["events"]} == {"opened", "completed"} and len(exp["attempts"]) == 1
    assert len(exp["records"]) == 1
    svc.delete_learner(lid)
    for model in (Learner, UnitEvent, QuizAttempt, IssuedRecord):
        assert _count(store, model, lid) == 0, model.__tablename__
    assert _count(store, Learner, other) == 1 and _count(store, QuizAttempt, other) == 1
    with pytest.raises(LearningError, match="Lerndaten gibt es nicht"):
        svc.export(lid)
    with pytest.raises(LearningError):
        svc.delete_learner(lid)


def test_record_pdf_text_and_verification(svc):
    lid = svc.create_learner(Role.works_council, "Erika Muster")["learner_id"]
    svc.record_event(lid, UNIT, "time", 25 * 60)
    items = svc.quiz(UNIT)["items"]
    svc.submit(lid, {it["id"]: svc.items[it["id"]].solution() for it in items})
    svc.record_event(lid, "ueberblick-betriebsrat", "completed", 0)
    pdf, vid = svc.record(lid)
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    for expected in ["Nachweis über Maßnahmen zur KI-Kompetenz", f"Prüf-ID {vid}", "Erika Muster",
                     "Betriebsrat: Lernpfad Betriebsrat (9 Einheiten)", "Grundlagen der KI",
                     "Betriebsratsspur: Überblick und Lernpfad", f"{len(items)} von {len(items)} richtig",
                     "Lernzeit insgesamt 25 Minuten", "Stand 29.11.2026", "Art. 4 der KI-Verordnung",
                     "Verordnung (EU) 2026/1744", "Pflicht zum Bemühen", "Gilt seit 2. Februar 2025",
                     "kein Zertifikat"]:
        assert expected in text, expected
    assert text.index("Grundlagen der KI") < text.index("Betriebsratsspur: Überblick")  # path order
    v = svc.verify(vid)
    assert v["display_name"] == "Erika Muster" and v["completed_units"] == 2 and v["total_minutes"] == 25
    with pytest.raises(LearningError, match="keinen Nachweis"):
        svc.verify("000000000000")


def test_team_summary_needs_the_owner_key_and_five_people(svc):
    team = svc.create_team("Malerbetrieb Muster")
    ids = [svc.create_learner(Role.employee, f"P{i}")["learner_id"] for i in range(5)]
    first = svc.path(Role.employee)["steps"][0]["unit_id"]
    for lid in ids[:4]:
        svc.join_team(lid, team["team_code"].lower())  # codes are case-insensitive
        svc.record_event(lid, first, "completed", 0)
    with pytest.raises(LearningError, match="Team-Schlüssel passt nicht") as e:
        svc.team_summary(team["team_code"], "falsch")
    assert e.value.status == 403
    s = svc.team_summary(team["team_code"], team["owner_key"])
    assert s["members"] is None and all(p["members"] is None for p in s["paths"])
    text = _pdf_text(svc.team_record(team["team_code"], team["owner_key"]))
    assert "weniger als 5" in text and "P0" not in text
    svc.join_team(ids[4], team["team_code"])
    s = svc.team_summary(team["team_code"], team["owner_key"])
    emp = next(p for p in s["paths"] if p["role"] == "employee")
    assert s["members"] == 5 and emp["started"] == 4 and emp["units"][0]["completion_rate"] == 80
    assert "P0" not in repr(s) and not any(i in repr(s) for i in ids)
    text = _pdf_text(svc.team_record(team["team_code"], team["owner_key"]))
    assert "Mitglieder im Team: 5" in text and "80 %" in text and "Art. 4" in text and "P1" not in text
    svc.join_team(ids[0], None)  # leaving drops the team below the threshold again
    assert svc.team_summary(team["team_code"], team["owner_key"])["members"] is None
    with pytest.raises(LearningError, match="kein Team"):
        svc.join_team(ids[0], "NICHTDA")


def _pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_idle_learners_are_purged(store):
    keep = store.create_learner("owner").id
    old = store.create_learner("owner").id
    store.add_event(old, UNIT, "opened", 10)
    with store._db.begin() as db:
        db.get(Learner, old).updated_at = _now() - timedelta(days=800)
    with pytest.raises(LearnerNotFound):
        store.get_learner(old)  # expired: gone even before the purge ran
    assert store.purge_expired() == 1
    assert _count(store, UnitEvent, old) == 0 and store.get_learner(keep).id == keep
