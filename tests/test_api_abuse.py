"""Hardening of the HTTP API against malformed input and abuse (issue #15, items 7-14).

A real server (`python -m assistant serve`, as a user starts it) on a free loopback port with a
tiny index of two Markdown files, once with SQLite and once with a real PostgreSQL. The server
trusts X-Forwarded-For from 127.0.0.2 only (`LB_TRUSTED_PROXIES`): the tests speak through that
"proxy" with a fresh client address each, so every test has its own rate-limit budget, and speak
from 127.0.0.1 (an untrusted peer) to show that forwarded headers from anybody else are ignored.
Everything sent carries marker words; the last test reads the server's log and finds none of
them, and no session id.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, wait_http
from .pg import MISSING, pg_bin, postgres_server

BUDGET = 4  # chat, search, new sessions, feedback: requests per client and minute on the test server
TUTOR_BUDGET = 6
PROXY = "127.0.0.2"  # the trusted reverse proxy (a second loopback address)
ADMIN_TOKEN = "admin-token-for-tests-9f3c"
LLM_PASSWORD = "Geheimes-LLM-Passwort-7731"
GERMAN = ("Anfrage", "Feld", "Rolle", "Zu viele", "Adresse", "Unterhaltung", "Frage", "Bitte", "Methode", "Fehler", "Hochladen")

CORPUS = {
    "ki-readiness.md": """---
titel: KI-Readiness im Betrieb
baustein: grundlagen
typ: lernsequenz
rollen: [owner, employee]
---
# KI-Readiness im Betrieb

KI-Readiness beschreibt, wie gut ein Betrieb auf den Einsatz von künstlicher Intelligenz vorbereitet ist.
Dazu gehören Daten, Kompetenzen der Beschäftigten und klare Regeln für die Nutzung.

## Erste Schritte

Beginnen Sie mit einer Bestandsaufnahme der Prozesse. Prüfen Sie, welche Aufgaben sich für KI eignen.
""",
    "mitbestimmung.md": """---
titel: Mitbestimmung bei KI
baustein: betriebsrat
typ: lernsequenz
rollen: [works_council]
---
# Mitbestimmung bei KI

Der Betriebsrat hat bei der Einführung technischer Einrichtungen, die Leistung oder Verhalten überwachen
können, ein Mitbestimmungsrecht nach § 87 Abs. 1 Nr. 6 BetrVG. Eine Betriebsvereinbarung regelt den
Einsatz von KI-Systemen im Betrieb.

## Datenschutz

Vor dem Einsatz ist oft eine Datenschutz-Folgenabschätzung nötig. Sie bewertet Risiken für die Beschäftigten.
""",
}

_addresses = (str(ipaddress.ip_address("198.18.0.1") + i) for i in itertools.count())


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LB_")}
    return {**env, **extra}


def _second_loopback_works() -> bool:
    try:
        with socket.socket() as s:
            s.bind((PROXY, 0))
        return True
    except OSError:
        return False


@dataclass
class Server:
    base: str
    backend: str
    db_url: str
    log: Path
    upload_dir: Path
    secrets: list[str] = field(default_factory=list)
    requests: int = 0

    def secret(self, text: str) -> str:
        """Remember text that must never reach the log."""
        self.secrets.append(text)
        return text

    def client(self, peer: str = PROXY, forwarded_for: str | None = None) -> httpx.Client:
        """A client with its own address: by default through the trusted proxy with a fresh X-Forwarded-For."""
        headers = {"X-Forwarded-For": forwarded_for or next(_addresses)}
        transport = httpx.HTTPTransport(local_address=peer)
        server = self

        def count(_request: httpx.Request) -> None:
            server.requests += 1

        return httpx.Client(base_url=self.base, headers=headers, transport=transport, timeout=60,
                            event_hooks={"request": [count]})


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("abuse-index")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "assistant", "ingest", str(corpus)],
                       env=_clean_env(LB_DATA_DIR=str(root / "data")), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return root / "data"


@pytest.fixture(scope="module")
def pg_url():
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING + " — CI must run the PostgreSQL tests (.ci/run installs it)")
        pytest.skip(MISSING)
    with postgres_server(free_port()) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tiny_index, tmp_path_factory) -> Server:
    if not _second_loopback_works():
        pytest.skip(f"{PROXY} cannot be bound (no 127.0.0.0/8 loopback): the proxy tests need it")
    root = tmp_path_factory.mktemp(f"abuse-{request.param}")
    data = root / "data"
    shutil.copytree(tiny_index, data)
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{root / 's.db'}"
    if request.param == "postgresql":
        from sqlalchemy import create_engine, text

        eng = create_engine(db_url)
        with eng.begin() as c:  # fresh tables for this server
            c.execute(text("DROP TABLE IF EXISTS lb_feedback, lb_messages, lb_sessions"))
        eng.dispose()
    port = free_port()
    uploads = root / "gradio-uploads"
    env = _clean_env(
        LB_DATA_DIR=str(data), LB_DATABASE_URL=db_url, LB_TRUSTED_PROXIES=PROXY, LB_ADMIN_TOKEN=ADMIN_TOKEN,
        LB_RATE_LIMIT_PER_MINUTE=str(BUDGET), LB_RATE_LIMIT_SEARCH_PER_MINUTE=str(BUDGET),
        LB_RATE_LIMIT_SESSIONS_PER_MINUTE=str(BUDGET), LB_RATE_LIMIT_FEEDBACK_PER_MINUTE=str(BUDGET),
        LB_RATE_LIMIT_TUTOR_PER_MINUTE=str(TUTOR_BUDGET),
        # credentials in the URL, and nothing listens there: answers fall back to extractive at once
        LB_LLM_BASE_URL=f"http://lb-user:{LLM_PASSWORD}@127.0.0.1:{free_port()}/v1", LB_LLM_MODEL="internes-modell",
        GRADIO_TEMP_DIR=str(uploads), GRADIO_ANALYTICS_ENABLED="False",
    )
    log = root / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, stdout=fh, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", request.param, db_url, log, uploads)
    try:
        wait_http(f"{srv.base}/api/health", proc=proc, timeout=120)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"\n{request.param}: {srv.requests} requests sent to the server")


def _sse(r: httpx.Response) -> list[tuple[str, object]]:
    events, kind = [], None
    for line in r.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((kind, json.loads(line.split(":", 1)[1].strip())))
    return events


def _chat(c: httpx.Client, body: dict) -> tuple[int, list[tuple[str, object]] | dict]:
    with c.stream("POST", "/api/chat", json=body) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, r.json()
        return 200, _sse(r)


def assert_german_error(r: httpx.Response, status: int, *sent: str) -> str:
    """The error shape of every /api error: exactly {"error": <German sentence>}, nothing echoed."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    message = body["error"]
    assert isinstance(message, str) and any(w in message for w in GERMAN), message
    assert len(r.content) < 1000  # never the input back
    for s in sent:
        assert s not in r.text
    return message


def _conversation(c: httpx.Client, srv: Server, role: str = "employee") -> tuple[str, str]:
    """A session with one answered question: (session id, message id)."""
    r = c.post("/api/sessions", json={"role": role})
    assert r.status_code == 201
    sid = srv.secret(r.json()["session_id"])
    status, events = _chat(c, {"question": srv.secret("Was ist KI-Readiness im Betrieb Zitronenfalter-Frage?"),
                               "session_id": sid})
    assert status == 200, events
    return sid, dict(events)["done"]["message_id"]


# --- item 7: values that cannot be rendered, characters that cannot be stored, huge bodies -------------

@pytest.mark.parametrize("path, raw", [
    ("/api/chat", '{"question": NaN, "role": "Papageientaucher-NaN"}'),
    ("/api/chat", '{"question": 1e999}'),
    ("/api/chat", '{"question": -Infinity}'),
    ("/api/search", '{"query": "KI", "k": NaN}'),
    ("/api/chat", '{"question": "Was ist KI?", "filters": {"baustein": Infinity}}'),
    ("/api/feedback", '{"session_id": "x", "message_id": "y", "rating": "up", "wrong_sources": [1e400]}'),
])
def test_non_finite_numbers_are_422_not_500(server, path, raw):
    with server.client() as c:
        r = c.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})
    msg = assert_german_error(r, 422, "Papageientaucher")
    assert "NaN oder unendlich" in msg


@pytest.mark.parametrize("path, body, field_name", [
    ("/api/chat", '{"question": "Zaunkoenig-Frage \\ud800 mit Surrogat"}', "question"),
    ("/api/chat", '{"question": "Zaunkoenig-Frage mit Nullzeichen \\u0000 drin"}', "question"),
    ("/api/chat", '{"question": "Was ist KI?", "session_id": "Zaunkoenig\\u0000Sitzung"}', "session_id"),
    ("/api/search", '{"query": "Zaunkoenig\\u0000Suche"}', "query"),
    ("/api/feedback", '{"session_id": "Zaunkoenig\\u0000", "message_id": "abc", "rating": "down"}', "session_id"),
    ("/api/feedback", '{"session_id": "abc", "message_id": "abc", "rating": "down", '
                      '"remark": "Zaunkoenig-Bemerkung \\u0000 mit NUL"}', "remark"),
    ("/api/chat", '{"question": "Was ist KI?", "filters": {"source": "Zaunkoenig\\u0000.md"}}', "filters.source"),
])
def test_nul_and_lone_surrogates_are_rejected_on_both_backends(server, path, body, field_name):
    server.secret("Zaunkoenig")
    with server.client() as c:
        r = c.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    msg = assert_german_error(r, 422, "Zaunkoenig")
    assert f"„{field_name}“" in msg and ("unzulässige Zeichen" in msg or "ungültig" in msg), msg


def test_nul_in_a_remark_to_a_real_answer_and_then_a_good_one(server):
    with server.client() as c:
        sid, mid = _conversation(c, server)
        bad = c.post("/api/feedback", json={"session_id": sid, "message_id": mid, "rating": "down",
                                            "remark": server.secret("Amselgesang\x00Bemerkung")})
        assert_german_error(bad, 422, "Amselgesang")
        good = c.post("/api/feedback", json={"session_id": sid, "message_id": mid, "rating": "down",
                                             "remark": server.secret("Amselgesang ohne Nullzeichen")})
        assert good.status_code == 201 and good.json()["ok"]
        export = c.get(f"/api/sessions/{sid}")
        assert export.status_code == 200
        assert export.json()["messages"][1]["feedback"][0]["remark"] == "Amselgesang ohne Nullzeichen"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_nul_in_the_session_id_of_the_path_is_404(server, method):
    with server.client() as c:
        r = c.request(method, "/api/sessions/Kranich%00Sitzung")
    assert "Unterhaltung" in assert_german_error(r, 404, "Kranich")


def test_huge_bodies_are_413_and_never_echoed(server):
    question = server.secret("Riesenfrage-Wanderfalke ") * 400_000  # ~10 MB
    body = json.dumps({"question": question}).encode()
    with server.client() as c:
        r = c.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
        assert "zu groß" in assert_german_error(r, 413, "Wanderfalke")
        # chunked, no Content-Length: the bytes are counted as they arrive
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
        r = c.post("/api/chat", content=chunks, headers={"Content-Type": "application/json"})
        assert "zu groß" in assert_german_error(r, 413, "Wanderfalke")
        # just over the limit (64 KB)
        r = c.post("/api/search", json={"query": "Wanderfalke " * 6000})
        assert_german_error(r, 413, "Wanderfalke")
        # under the body limit but over the field limit: 422, the text is not repeated
        r = c.post("/api/chat", json={"question": "Wanderfalke " * 300})
        assert "zu lang" in assert_german_error(r, 422, "Wanderfalke")


# --- item 8: every error under /api is {"error": "<German>"} ------------------------------------------

@pytest.mark.parametrize("method, path, content, ctype, status", [
    ("POST", "/api/chat", b'{"question": "Fischreiher \xff\xfe"}', "application/json", 400),  # not UTF-8
    ("POST", "/api/chat", b"[" * 5000 + b"]" * 5000, "application/json", 400),  # nesting: recursion
    ("POST", "/api/search", (b'{"query": "KI", "filters": {"a": ' + b"[" * 18 + b"1" + b"]" * 18 + b"}}"), "application/json", 400),  # nesting: deeper than any request needs
    ("POST", "/api/chat", b'{"question": "Fischreiher', "application/json", 422),  # broken JSON
    ("POST", "/api/chat", b"question=Fischreiher", "application/x-www-form-urlencoded", 415),
    ("POST", "/api/chat", b'{"question": "Fischreiher"}', "text/plain", 415),  # a cross-site "simple" request
    ("PUT", "/api/chat", b"", None, 405),
    ("GET", "/api/sessions", b"", None, 405),
    ("GET", "/api/gibt-es-nicht", b"", None, 404),
    ("POST", "/api/chat", b'["Fischreiher"]', "application/json", 422),
    ("POST", "/api/search", b"", "application/json", 422),
    ("POST", "/api/chat", b'{"question": "Was ist KI?", "role": "Fischreiher-Rolle"}', "application/json", 422),
])
def test_errors_are_german_json_with_the_right_status(server, method, path, content, ctype, status):
    headers = {"Content-Type": ctype} if ctype else {}
    with server.client() as c:
        r = c.request(method, path, content=content, headers=headers)
    assert_german_error(r, status, "Fischreiher", "detail")
    if status == 405:
        assert r.headers.get("allow")


# --- item 14 (feedback): an expired session is gone --------------------------------------------------

def _expire(srv: Server, sid: str) -> None:
    from sqlalchemy import create_engine, text

    from assistant.store.sessions import _now

    eng = create_engine(srv.db_url)
    with eng.begin() as c:
        c.execute(text("UPDATE lb_sessions SET updated_at = :t WHERE id = :id"),
                  {"t": _now() - timedelta(days=31), "id": sid})
    eng.dispose()


def test_feedback_to_an_expired_session_is_404(server):
    with server.client() as c:
        sid, mid = _conversation(c, server)
        _expire(server, sid)
        r = c.post("/api/feedback", json={"session_id": sid, "message_id": mid, "rating": "up",
                                          "remark": server.secret("Eisvogel-Rückmeldung")})
        assert "Unterhaltung" in assert_german_error(r, 404, sid, "Eisvogel")
        assert_german_error(c.get(f"/api/sessions/{sid}"), 404, sid)
        status, err = _chat(c, {"question": "Was ist KI?", "session_id": sid})
        assert status == 404 and "Unterhaltung" in err["error"]


# --- items 10 and 11: rate limits, trusted proxies -----------------------------------------------------

def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(server):
    codes = []
    for i in range(BUDGET + 1):  # 127.0.0.1 is not in LB_TRUSTED_PROXIES; each request claims another client
        with server.client(peer="127.0.0.1", forwarded_for=f"203.0.113.{i + 1}") as c:
            status, body = _chat(c, {"question": "Was ist KI-Readiness?"})
        codes.append(status)
    assert codes == [200] * BUDGET + [429]
    assert "Zu viele Fragen" in body["error"]


def test_x_forwarded_for_from_the_trusted_proxy_names_the_client(server):
    one = next(_addresses)
    with server.client(forwarded_for=one) as same:
        codes = [same.post("/api/search", json={"query": "KI-Readiness", "k": 1}).status_code
                 for _ in range(BUDGET + 1)]
    assert codes == [200] * BUDGET + [429]
    for _ in range(BUDGET + 1):  # every other client behind the proxy has its own budget
        with server.client() as other:
            assert other.post("/api/search", json={"query": "KI-Readiness", "k": 1}).status_code == 200


@pytest.mark.parametrize("path, body", [
    ("/api/search", {"query": "Betriebsrat", "k": 2}),
    ("/api/sessions", {"role": "works_council"}),
    ("/api/feedback", {"session_id": "unbekannt", "message_id": "unbekannt", "rating": "up"}),
    ("/api/chat", {"question": "Was regelt eine Betriebsvereinbarung?"}),
])
def test_every_public_write_has_a_budget(server, path, body):
    with server.client() as c:
        rs = [c.post(path, json=body) for _ in range(BUDGET + 1)]
    assert all(r.status_code != 429 for r in rs[:BUDGET])
    last = rs[-1]
    assert "Zu viele" in assert_german_error(last, 429)
    assert 1 <= int(last.headers["retry-after"]) <= 60
    if path == "/api/sessions":
        for r in rs[:BUDGET]:
            server.secret(r.json()["session_id"])


def test_the_tutor_is_limited_and_takes_no_uploads(server):
    with server.client() as c:
        assert c.get("/tutor/").status_code == 200
        for path in ("/tutor/gradio_api/upload", "/tutor/gradio_api/upload/", "/tutor/gradio_api/uploa%64",
                     "/tutor/gradio_api/process_recording"):
            r = c.post(path, files={"files": ("Seeadler.bin", b"\0" * 5_000_000)})
            assert "Hochladen" in assert_german_error(r, 403, "Seeadler")
        assert not server.upload_dir.exists() or not any(server.upload_dir.rglob("*.bin"))
    with server.client() as c:  # a fresh client: the refused uploads counted against the first one's budget
        codes = [c.post("/tutor/gradio_api/call/load_course", json={"data": []}).status_code
                 for _ in range(TUTOR_BUDGET + 1)]
    assert codes[0] == 200 and 429 not in codes[:TUTOR_BUDGET] and codes[-1] == 429, codes


# --- item 12: no secrets, no internal URLs in public endpoints ------------------------------------------

def test_health_shows_details_to_the_admin_only(server):
    with server.client() as c:
        public = [c.get("/api/health"), c.get("/api/health", headers={"Authorization": "Bearer falsch"})]
        admin = c.get("/api/health", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    for r in public:
        assert r.status_code == 200
        text = r.text
        for leak in (LLM_PASSWORD, "lb-user", "127.0.0.1", "http", "internes-modell", "base_url", "lernbegleiter",
                     server.db_url.split("@")[-1]):
            assert leak not in text, leak
        h = r.json()
        assert h["status"] == "ok" and h["passages"] == 4 and h["sessions"]["backend"] == server.backend
        assert h["llm"] == {"configured": True, "state": "unreachable"} and h["answerer"] == "llm"
    assert admin.status_code == 200
    detail = admin.json()
    assert detail["llm"]["base_url"].startswith("http://127.0.0.1:") and detail["llm"]["model"] == "internes-modell"
    assert LLM_PASSWORD not in admin.text and "lb-user" not in admin.text
    assert detail["rate_limits"]["chat"] == BUDGET


# --- item 13: a normal conversation, then the log ------------------------------------------------------

def test_a_normal_conversation_still_works(server):
    with server.client() as c:
        status, events = _chat(c, {"question": server.secret("Was regelt die Mitbestimmung Goldammer-Frage?"),
                                   "role": "works_council"})
        assert status == 200
        kinds = [k for k, _ in events]
        assert kinds[0] == "meta" and kinds[-1] == "done" and "error" not in kinds
        sid = server.secret(dict(events)["meta"]["session_id"])
        assert c.delete(f"/api/sessions/{sid}").status_code == 204


def test_the_server_log_holds_no_question_remark_or_session_id(server):
    """Runs last for each backend: everything above went through this server."""
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Application startup complete" in log
    assert len(server.secrets) >= 10
    for s in server.secrets:
        assert s not in log, f"leaked into the log: {s[:40]!r}"
    for marker in ("Zaunkoenig", "Papageientaucher", "Fischreiher", "Wanderfalke", "Amselgesang", "Eisvogel",
                   "Seeadler", "Kranich", LLM_PASSWORD):
        assert marker not in log
    assert "Traceback" not in log and "[parameters:" not in log
    assert server.requests >= 60, server.requests


# --- without a server: SQLite lock timeouts, the tutor's path, invalid settings ----------------------------

def test_sqlite_lock_timeout_logs_no_sql_parameters(tiny_index, tmp_path, caplog):
    from assistant.service import ChatService
    from assistant.store.sessions import SessionStore
    from assistant.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(tiny_index, data)
    db = tmp_path / "locked.db"
    svc = ChatService.build(Settings(data_dir=data, database_url=f"sqlite:///{db}"))
    svc.store.close()
    svc.store = SessionStore(f"sqlite:///{db}", sqlite_timeout=0.2)
    sid = svc.store.create("employee").id
    question = "Darf mein Chef das Stieglitz-Geheimnis mit KI auswerten?"
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level("DEBUG"):
            events = list(svc.chat(question, None, session_id=sid))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert events[-1]["event"] == "error" and "interner Fehler" in events[-1]["data"]["message"]
    assert "OperationalError" in caplog.text
    assert "Stieglitz" not in caplog.text and sid not in caplog.text and "parameters" not in caplog.text
    # the tutor and the CLI call the same service: NUL is refused before any database sees it
    nul = list(svc.chat("Stieglitz\x00Frage", None, session_id=sid))
    assert nul == [{"event": "error", "data": {"message": "Die Frage enthält unzulässige Zeichen."}}]
    svc.close()


@pytest.mark.parametrize("command, var, value, expected", [
    ("serve", "LB_RETENTION_DAYS", "abc", "Ungültige Einstellung LB_RETENTION_DAYS: ganze Zahl erwartet."),
    ("serve", "LB_TRUSTED_PROXIES", "proxy.example", "Ungültige Einstellung LB_TRUSTED_PROXIES: IP-Adressen"),
    ("serve", "LB_REDIS_URL", "http://cache.example", "Ungültige Einstellung LB_REDIS_URL: redis://… erwartet."),
    ("ingest", "LB_MAX_BODY_BYTES", "999", "Ungültige Einstellung LB_MAX_BODY_BYTES: mindestens 1024 erwartet."),
])
def test_invalid_settings_stop_with_one_german_line(tmp_path, command, var, value, expected):
    args = [sys.executable, "-m", "assistant", command] + ([str(tmp_path)] if command == "ingest" else [])
    r = subprocess.run(args, env=_clean_env(LB_DATA_DIR=str(tmp_path / "data"), **{var: value}),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), r.stderr
    assert "Traceback" not in r.stderr and value not in r.stderr


def test_an_escaping_exception_is_a_german_500_and_logs_its_type_only(tmp_path, caplog):
    """ErrorGuard: Starlette would hand the exception on to the server, which logs its message."""
    from fastapi.testclient import TestClient

    from assistant.web.api import create_app
    from assistant.settings import Settings

    class Broken:
        store = None

        def health(self):
            raise RuntimeError("Frage: Darf der Chef das Rotkehlchen-Geheimnis sehen? session=Rotkehlchen-Token")

    app = create_app(Settings(data_dir=tmp_path / "data"), service=Broken())  # type: ignore[arg-type]
    with caplog.at_level("DEBUG"), TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/health")
    assert "interner Fehler" in assert_german_error(r, 500, "Rotkehlchen")
    assert "RuntimeError" in caplog.text and "Rotkehlchen" not in caplog.text
