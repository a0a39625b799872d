"""Sessions, follow-ups, feedback and privacy. The store suite runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest

from assistant.answers.followup import condense_heuristic, is_followup, role_in_question
from assistant.roles import Role
from assistant.store.sessions import MessageNotFound, SessionNotFound, SessionStore, Turn, _now

from .conftest import events_of, free_port, wait_http
from .pg import MISSING, pg_bin, postgres_server


@pytest.fixture(scope="session")
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
        s = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}", retention_days=30)
    else:
        from sqlalchemy import create_engine, text

        url = request.getfixturevalue("pg_url")
        eng = create_engine(url)
        with eng.begin() as c:  # each test starts from empty tables
            c.execute(text("DROP TABLE IF EXISTS lb_feedback, lb_messages, lb_sessions"))
        eng.dispose()
        s = SessionStore(url, retention_days=30)
    yield s
    s.close()


# --- the store, on both backends ---------------------------------------------------------------

def test_session_ids_are_random_and_unguessable(store):
    ids = {store.create().id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 32 for i in ids)


def test_messages_history_and_export(store):
    sid = store.create("works_council").id
    store.add_message(sid, "user", "Was ist eine DSFA?", standalone_question="Was ist eine DSFA?", role="works_council")
    mid = store.add_message(sid, "assistant", "Eine Folgenabschätzung [1].", role="works_council",
                            answerer="extractive", prompt={"name": "extractive", "sha256": "abc"}, answerable=True,
                            sources=[{"n": 1, "id": "p1", "title": "DSFA", "label": "DSFA › Schritt 1"}])
    store.add_message(sid, "user", "Wer macht die?", standalone_question="Wer macht die? (bezogen auf: Was ist eine DSFA)")
    store.add_message(sid, "assistant", "Der Verantwortliche [1].")
    hist = store.history(sid, turns=3)
    assert [t.question for t in hist] == ["Was ist eine DSFA?", "Wer macht die?"]
    assert hist[1].standalone_question.endswith("(bezogen auf: Was ist eine DSFA)")
    assert store.history(sid, turns=1)[0].answer == "Der Verantwortliche [1]."

    exp = store.export(sid)
    assert exp["session_id"] == sid and exp["role"] == "works_council" and exp["retention_days"] == 30
    assert [m["kind"] for m in exp["messages"]] == ["user", "assistant", "user", "assistant"]
    answer = exp["messages"][1]
    assert answer["id"] == mid and answer["prompt"] == {"name": "extractive", "sha256": "abc"}
    assert answer["sources"][0]["label"] == "DSFA › Schritt 1"
    json.dumps(exp)  # the export is plain JSON


def test_feedback_is_stored_with_flags_and_checked(store):
    sid = store.create().id
    store.add_message(sid, "user", "Frage")
    mid = store.add_message(sid, "assistant", "Antwort [1] [2].")
    store.add_feedback(sid, mid, "down", "Quelle 2 passt nicht", [2, 2])
    fb = store.export(sid)["messages"][1]["feedback"]
    assert fb[0]["rating"] == "down" and fb[0]["remark"] == "Quelle 2 passt nicht" and fb[0]["wrong_sources"] == [2]
    with pytest.raises(MessageNotFound):
        store.add_feedback(sid, "nope", "up")
    other = store.create().id
    with pytest.raises(MessageNotFound):  # a message of another session
        store.add_feedback(other, mid, "up")
    with pytest.raises(SessionNotFound):
        store.add_feedback("unknown", mid, "up")


def test_delete_erases_everything(store):
    sid = store.create().id
    store.add_message(sid, "user", "Frage")
    mid = store.add_message(sid, "assistant", "Antwort")
    store.add_feedback(sid, mid, "up")
    keep = store.create().id
    store.delete(sid)
    with pytest.raises(SessionNotFound):
        store.export(sid)
    with pytest.raises(SessionNotFound):
        store.delete(sid)
    from sqlalchemy import text

    with store.engine.connect() as c:
        for table in ("lb_messages", "lb_feedback"):
            assert c.execute(text(f"select count(*) from {table} where session_id = :s"), {"s": sid}).scalar() == 0
    assert store.export(keep)["messages"] == []


def test_retention_purges_idle_sessions(store):
    old, fresh = store.create().id, store.create().id
    store.add_message(old, "user", "alt")
    from sqlalchemy import update

    from assistant.store.sessions import ChatSession

    with store.engine.begin() as c:
        c.execute(update(ChatSession).where(ChatSession.id == old).values(updated_at=_now() - timedelta(days=31)))
    with pytest.raises(SessionNotFound):  # expired is gone for the user at once, even before the purge
        store.get(old)
    assert store.purge_expired() == 1
    assert store.count_sessions() == 1
    store.get(fresh)


# --- follow-up heuristic -------------------------------------------------------------------------

HIST = [Turn("Was muss der Betriebsrat bei KI zur Leistungskontrolle prüfen?",
             "Was muss der Betriebsrat bei KI zur Leistungskontrolle prüfen?", "…", "works_council")]


@pytest.mark.parametrize("q", ["Gilt das auch für Azubis?", "Und was heißt das für uns als Betriebsrat?",
                               "Was ist mit Minijobbern?", "Warum?", "Und wenn wir keinen Betriebsrat haben?"])
def test_followups_are_detected(q):
    assert is_followup(q, HIST)
    out = condense_heuristic(q, HIST)
    assert out.startswith(q) and "Leistungskontrolle" in out


@pytest.mark.parametrize("q", ["Welche Pflichten haben Betreiber von Hochrisiko-KI-Systemen nach der KI-Verordnung?",
                               "Wie erstelle ich eine Gefährdungsbeurteilung für psychische Belastungen im Lager?"])
def test_standalone_questions_stay_unchanged(q):
    assert not is_followup(q, HIST)
    assert condense_heuristic(q, HIST) == q
    assert condense_heuristic("Gilt das auch für Azubis?", []) == "Gilt das auch für Azubis?"


def test_chains_of_followups_keep_the_original_topic():
    first = HIST[0]
    second = Turn("Gilt das auch für Azubis?", condense_heuristic("Gilt das auch für Azubis?", [first]), "…", None)
    third = condense_heuristic("Und für Leiharbeiter?", [first, second])
    assert third == "Und für Leiharbeiter? (bezogen auf: Leistungskontrolle)"


def test_role_named_in_the_question():
    assert role_in_question("Und was heißt das für uns als Betriebsrat?") is Role.works_council
    assert role_in_question("Was bedeutet das für mich als Geschäftsführer?") is Role.owner
    assert role_in_question("Gilt das auch für Azubis?") is None


# --- through the service -------------------------------------------------------------------------

def test_multi_turn_conversation_rewrites_and_records(corpus_service):
    evs = events_of(corpus_service.chat("Was muss der Betriebsrat prüfen, wenn KI zur Leistungskontrolle "
                                        "eingeführt wird?", Role.works_council))
    meta = dict(evs)["meta"]
    sid = meta["session_id"]
    assert meta["standalone_question"] == meta["question"]
    follow = "Was gehört dazu in eine Betriebsvereinbarung?"
    evs2 = events_of(corpus_service.chat(follow, None, session_id=sid))
    meta2, done2 = dict(evs2)["meta"], dict(evs2)["done"]
    assert meta2["session_id"] == sid and meta2["question"] == follow
    assert "Leistungskontrolle" in meta2["standalone_question"]
    assert meta2["role"] == "works_council"  # the session's role carries over
    evs3 = events_of(corpus_service.chat("Und was heißt das für uns als Geschäftsführung?", None, session_id=sid))
    assert dict(evs3)["meta"]["role"] == "owner"
    text3 = "".join(d["text"] for k, d in evs3 if k == "delta")
    assert "Für Sie als Geschäftsführung" in text3

    exp = corpus_service.store.export(sid)
    assert exp["role"] == "works_council"  # a role named in a question does not change the session
    msgs = exp["messages"]
    assert [m["kind"] for m in msgs] == ["user", "assistant"] * 3
    assert msgs[3]["id"] == done2["message_id"]
    assert msgs[3]["prompt"]["name"] and len(msgs[3]["prompt"]["sha256"]) == 12
    assert msgs[3]["sources"] and all(s["label"] for s in msgs[3]["sources"])
    assert msgs[2]["standalone_question"] == meta2["standalone_question"]


def test_unknown_session_is_a_german_error(corpus_service):
    evs = events_of(corpus_service.chat("Was ist eine DSFA?", None, session_id="gibt-es-nicht"))
    assert evs[0][0] == "error" and "Unterhaltung" in evs[0][1]["message"]


def test_chat_on_postgresql(pg_url, corpus_data_dir, embedder):
    from assistant.service import ChatService
    from assistant.settings import Settings

    svc = ChatService.build(Settings(data_dir=corpus_data_dir, database_url=pg_url), embedder=embedder)
    assert svc.health()["sessions"]["backend"] == "postgresql"
    evs = events_of(svc.chat("Was ist eine Datenschutz-Folgenabschätzung?", Role.employee))
    sid = dict(evs)["meta"]["session_id"]
    assert [m["kind"] for m in svc.store.export(sid)["messages"]] == ["user", "assistant"]
    svc.close()


# --- over HTTP, on a real server --------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(corpus_data_dir, tmp_path_factory):
    port = free_port()
    db = tmp_path_factory.mktemp("sessions") / "s.db"
    env = {**os.environ, "LB_DATA_DIR": str(corpus_data_dir), "LB_DATABASE_URL": f"sqlite:///{db}",
           "LB_CORS_ORIGINS": "https://www.handwerk-beispiel.de", "LB_RATE_LIMIT_PER_MINUTE": "12"}
    log = tmp_path_factory.mktemp("log") / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/api/health", proc=proc)
            yield base, db, log
        finally:
            proc.terminate()
            proc.wait(15)


def _chat(base: str, body: dict, **kw) -> tuple[int, list[tuple[str, object]]]:
    events, kind = [], None
    with httpx.stream("POST", f"{base}/api/chat", json=body, timeout=60, **kw) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, [("http", r.json())]
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.split(":", 1)[1].strip())))
    return 200, events


SECRET_QUESTION = "Darf mein Chef Zebrastreifen-Kennzahl 4711 mit KI auswerten und mich damit überwachen?"


def test_session_api_round_trip(server):
    base, db, log = server
    r = httpx.post(f"{base}/api/sessions", json={"role": "employee"})
    assert r.status_code == 201
    sid = r.json()["session_id"]
    assert r.json()["retention_days"] == 30

    status, evs = _chat(base, {"question": SECRET_QUESTION, "session_id": sid, "role": "employee"})
    assert status == 200
    meta, done = dict(evs)["meta"], dict(evs)["done"]
    assert meta["session_id"] == sid and done["message_id"] == meta["message_id"]
    n_sources = len(dict(evs)["sources"])
    assert n_sources >= 1

    r = httpx.post(f"{base}/api/feedback", json={"session_id": sid, "message_id": done["message_id"],
                                                 "rating": "down", "remark": "Zu allgemein", "wrong_sources": [1]})
    assert r.status_code == 201 and r.json()["ok"]
    assert httpx.post(f"{base}/api/feedback", json={"session_id": sid, "message_id": "x" * 32,
                                                    "rating": "up"}).status_code == 404
    bad = httpx.post(f"{base}/api/feedback", json={"session_id": sid, "message_id": done["message_id"],
                                                   "rating": "meh"})
    assert bad.status_code == 422 and bad.json()["error"]

    exp = httpx.get(f"{base}/api/sessions/{sid}").json()
    answer = exp["messages"][1]
    assert answer["feedback"][0]["wrong_sources"] == [1] and answer["feedback"][0]["remark"] == "Zu allgemein"
    assert len(answer["sources"]) == n_sources

    # privacy: no IP address stored anywhere, no message text in the server's log
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "Zebrastreifen" in dump and "127.0.0.1" not in dump
    assert "Zebrastreifen" not in log.read_text()

    assert httpx.delete(f"{base}/api/sessions/{sid}").status_code == 204
    gone = httpx.get(f"{base}/api/sessions/{sid}")
    assert gone.status_code == 404 and "Unterhaltung" in gone.json()["error"]
    assert "Zebrastreifen" not in "\n".join(sqlite3.connect(db).iterdump())


def test_unknown_session_answers_404_before_streaming(server):
    status, evs = _chat(server[0], {"question": "Was ist eine DSFA?", "session_id": "abgelaufen"})
    assert status == 404 and "Unterhaltung" in evs[0][1]["error"]


def test_cors_only_for_configured_origins(server):
    base = server[0]
    ok = httpx.options(f"{base}/api/chat", headers={"Origin": "https://www.handwerk-beispiel.de",
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert ok.headers.get("access-control-allow-origin") == "https://www.handwerk-beispiel.de"
    no = httpx.options(f"{base}/api/chat", headers={"Origin": "https://evil.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in no.headers


def test_rate_limit_answers_429_in_german(server):
    base = server[0]
    codes = []
    for _ in range(14):
        status, evs = _chat(base, {"question": "Was ist KI?"})
        codes.append(status)
        if status == 429:
            assert "Zu viele Fragen" in evs[0][1]["error"]
            break
    assert 429 in codes


def test_health_reports_sessions_and_llm(server):
    h = httpx.get(f"{server[0]}/api/health").json()
    assert h["sessions"]["backend"] == "sqlite"
    assert h["llm"]["configured"] is False
