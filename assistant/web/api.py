"""HTTP API: a thin layer over ChatService. SSE formatting lives here, nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .course import router as course_router
from .deps import Service
from .learning import learning_router
from ..guards import BodyGuard, ErrorGuard, log_failure
from .ratelimit import RateLimitMiddleware, RateLimits, budgets_from
from .toolkits import router as toolkits_router
from ..roles import Role, parse_role
from ..service import MAX_QUESTION_CHARS, SESSION_GONE, ChatService
from ..store.sessions import MessageNotFound, SessionNotFound
from ..settings import Settings
from ..serving.gate import ComposeGate
from ..serving.workers import set_threadpool

log = logging.getLogger("lernbegleiter")
UI_DIR = Path(__file__).resolve().parents[2] / "ui"
PURGE_EVERY_S = 3600


SESSION_ID = r"^[A-Za-z0-9_-]+$"  # secrets.token_urlsafe; anything else cannot be a session
_SESSION_ID = re.compile(SESSION_ID)
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL rejects it) and lone surrogates (not UTF-8)
UNKNOWN_ROLE = ("Unbekannte Rolle. Erlaubt sind: " + ", ".join(f"{r.value} ({r.label})" for r in Role) + ".")


def _clean(v: str | None) -> str | None:
    if v is not None and _BAD_CHARS.search(v):
        raise PydanticCustomError("bad_chars", "text contains NUL or a lone surrogate")
    return v


class Filters(BaseModel):
    baustein: str | None = Field(None, max_length=200)
    typ: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=1000)

    @field_validator("baustein", "typ", "source")
    @classmethod
    def _no_bad_chars(cls, v: str | None) -> str | None:
        return _clean(v)


class _RoleMixin(BaseModel):
    role: str | None = None

    @field_validator("role")
    @classmethod
    def _known_role(cls, v: str | None) -> str | None:
        try:
            parse_role(v)
        except ValueError:  # parse_role's message repeats the value: never echo input
            raise ValueError(UNKNOWN_ROLE) from None
        return v or None

    def role_enum(self) -> Role | None:
        return parse_role(self.role)


class ChatRequest(_RoleMixin):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    filters: Filters | None = None
    session_id: str | None = Field(None, max_length=64, pattern=SESSION_ID)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        _clean(v)
        if not v.strip():
            raise ValueError("Die Frage ist leer.")
        return v.strip()


class SearchRequest(_RoleMixin):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int = Field(8, ge=1, le=50)
    filters: Filters | None = None
    mode: Literal["hybrid", "lexical", "dense"] = "hybrid"

    @field_validator("query")
    @classmethod
    def _no_bad_chars(cls, v: str) -> str:
        return _clean(v)


class SessionRequest(_RoleMixin):
    pass


class FeedbackRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64, pattern=SESSION_ID)
    message_id: str = Field(min_length=1, max_length=32, pattern=SESSION_ID)
    rating: Literal["up", "down"]
    remark: str | None = Field(None, max_length=1000)
    wrong_sources: list[int] = Field(default_factory=list, max_length=20)

    @field_validator("remark")
    @classmethod
    def _no_bad_chars(cls, v: str | None) -> str | None:
        return _clean(v)


def _german(err: dict[str, Any]) -> str:
    """A German sentence for one validation error; it names the field but never repeats the input."""
    where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "Anfrage"
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,60}", where):
        where = "Anfrage"
    kind = err.get("type", "")
    if kind == "missing":
        return f"Feld „{where}“ fehlt."
    if kind == "json_invalid":
        return "Der Anfragetext ist kein gültiges JSON."
    if kind == "string_too_short":
        return f"Feld „{where}“ darf nicht leer sein."
    if kind == "string_too_long":
        return f"Feld „{where}“ ist zu lang (höchstens {err.get('ctx', {}).get('max_length')} Zeichen)."
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"Feld „{where}“ liegt außerhalb des erlaubten Bereichs."
    if kind in ("bad_chars", "string_unicode"):
        return f"Feld „{where}“ enthält unzulässige Zeichen (z. B. Nullzeichen)."
    if kind == "value_error":  # our validators' German messages; they never repeat the input
        return str(err.get("ctx", {}).get("error") or err.get("msg"))
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"Feld „{where}“ hat den falschen Typ."
    return f"Feld „{where}“ ist ungültig."


def create_app(settings: Settings | None = None, service: ChatService | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        set_threadpool(settings.threadpool_size)
        app.state.service = svc = service or ChatService.build(settings)
        purger = asyncio.create_task(_purge_loop(svc)) if svc.store is not None else None
        stop_warming = threading.Event()
        threading.Thread(target=_warm, args=(svc, stop_warming), name="lb-warm", daemon=True).start()
        yield
        stop_warming.set()
        if purger is not None:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        if service is None:
            svc.close()

    app = FastAPI(title="KI-Lernbegleiter", version="0.1.0", lifespan=lifespan)
    compose_gate = ComposeGate(settings.compose_concurrency)
    # ASGI middlewares, the last added runs first: ErrorGuard > ProxyHeaders > CORS > RateLimit > BodyGuard
    app.add_middleware(BodyGuard, api_max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitMiddleware, limits=RateLimits(budgets_from(settings), settings.redis_url))
    if settings.cors_origin_list:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Content-Type"], max_age=600)
    if settings.trusted_proxy_list:  # X-Forwarded-For is believed from these peers only
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    app.add_middleware(ErrorGuard)

    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message}, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = " ".join(dict.fromkeys(_german(e) for e in exc.errors()))  # no details: never echo input
        return _error(422, message or "Die Anfrage ist ungültig.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in ("allow", "retry-after")}
        return _error(exc.status_code, HTTP_ERRORS.get(exc.status_code, HTTP_ERROR_OTHER), headers or None)

    @app.post("/api/chat", response_model=None)
    def chat(req: ChatRequest, svc: Service) -> EventSourceResponse | JSONResponse:
        try:  # an unknown session is answered before the stream starts
            session_id = svc.open_session(req.session_id, req.role_enum())
        except SessionNotFound:
            return _error(404, SESSION_GONE)
        events = svc.chat(req.question, req.role_enum(), req.filters.model_dump() if req.filters else None,
                          session_id=session_id)
        if svc.llm is None:  # extractive: CPU-bound composition, capped per process (assistant/serving/gate.py)
            events = compose_gate.wrap(events)
        return EventSourceResponse(
            ({"event": e["event"], "data": json.dumps(e["data"], ensure_ascii=False)} for e in events),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/search")
    def search(req: SearchRequest, svc: Service) -> dict[str, Any]:
        hits = svc.search(req.query, req.role_enum(), req.k, req.filters.model_dump() if req.filters else None,
                          req.mode)
        return {"hits": [{"id": h.id, "text": h.text, "score": h.score, "metadata": h.metadata} for h in hits]}

    @app.get("/api/health")
    def health(request: Request, svc: Service) -> dict[str, Any]:
        """Public: state only. With `Authorization: Bearer <LB_ADMIN_TOKEN>`: the details (URLs without
        credentials, model, collection)."""
        h = svc.health()
        if _is_admin(request, settings.admin_token):
            return _admin_health(h, settings)
        return _public_health(h)

    # --- sessions and feedback ------------------------------------------------------------

    def _store(svc: ChatService):
        if svc.store is None:
            raise SessionNotFound("")
        return svc.store

    @app.post("/api/sessions", status_code=201, response_model=None)
    def create_session(req: SessionRequest, svc: Service) -> dict[str, Any] | JSONResponse:
        if svc.store is None:
            return _error(503, "Unterhaltungen werden auf diesem Server nicht gespeichert.")
        s = svc.store.create(req.role)
        return {"session_id": s.id, "role": s.role, "created_at": s.created_at.isoformat() + "Z",
                "retention_days": svc.store.retention_days}

    @app.get("/api/sessions/{session_id}", response_model=None)
    def export_session(session_id: str, svc: Service) -> dict[str, Any] | JSONResponse:
        if not _valid_session_id(session_id):
            return _error(404, SESSION_GONE)
        try:
            return _store(svc).export(session_id)
        except SessionNotFound:
            return _error(404, SESSION_GONE)

    @app.delete("/api/sessions/{session_id}", status_code=204, response_model=None)
    def delete_session(session_id: str, svc: Service) -> Response:
        if not _valid_session_id(session_id):
            return _error(404, SESSION_GONE)
        try:
            _store(svc).delete(session_id)
        except SessionNotFound:
            return _error(404, SESSION_GONE)
        return Response(status_code=204)

    @app.post("/api/feedback", status_code=201, response_model=None)
    def feedback(req: FeedbackRequest, svc: Service) -> dict[str, Any] | JSONResponse:
        try:
            fid = _store(svc).add_feedback(req.session_id, req.message_id, req.rating,
                                           (req.remark or "").strip() or None, req.wrong_sources)
        except SessionNotFound:
            return _error(404, SESSION_GONE)
        except MessageNotFound:
            return _error(404, "Zu dieser Antwort kann keine Rückmeldung gespeichert werden (Antwort unbekannt).")
        return {"ok": True, "feedback_id": fid}

    app.include_router(course_router)  # /kurs/{id} and /api/units/{id}: the units answers link to
    app.include_router(learning_router(settings))  # paths, quizzes, progress, records, teams, /lernen
    app.include_router(toolkits_router)  # /api/briefing, /api/check, /api/perspectives (assistant/web/toolkits.py)

    # --- widget, demo page, tutor -----------------------------------------------------------

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        return FileResponse(UI_DIR / "widget" / "widget.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(UI_DIR / "demo" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/widget", StaticFiles(directory=UI_DIR / "widget", check_dir=False), name="widget")
    app.mount("/demo", StaticFiles(directory=UI_DIR / "demo", check_dir=False), name="demo")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> Response:
        demo = UI_DIR / "demo" / "index.html"
        return FileResponse(demo) if demo.exists() else HTMLResponse(_INDEX_HTML)

    try:
        from ui.tutor import mount_tutor
    except ImportError as err:  # gradio missing: the API and the widget still work
        log.warning("tutor app not mounted: %s", err)
    else:
        mount_tutor(app, lambda: app.state.service, concurrency=settings.tutor_concurrency)

    return app


HTTP_ERRORS = {
    400: "Die Anfrage konnte nicht gelesen werden.",
    401: "Für diese Anfrage ist eine Anmeldung nötig.",
    403: "Diese Anfrage ist nicht erlaubt.",
    404: "Diese Adresse gibt es nicht.",
    405: "Diese Methode ist für diese Adresse nicht erlaubt.",
    406: "Dieses Antwortformat wird nicht unterstützt.",
    413: "Die Anfrage ist zu groß.",
    415: "Bitte senden Sie die Anfrage als JSON (Content-Type: application/json).",
    422: "Die Anfrage ist ungültig.",
    429: "Zu viele Anfragen in kurzer Zeit. Bitte warten Sie einen Moment.",
    500: "Es ist ein interner Fehler aufgetreten. Bitte versuchen Sie es später erneut.",
    503: "Der Dienst ist gerade nicht verfügbar. Bitte versuchen Sie es später erneut.",
}
HTTP_ERROR_OTHER = "Die Anfrage konnte nicht bearbeitet werden."


def _valid_session_id(session_id: str) -> bool:
    return 0 < len(session_id) <= 64 and _SESSION_ID.match(session_id) is not None and "\n" not in session_id


def _is_admin(request: Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _public_health(h: dict[str, Any]) -> dict[str, Any]:
    """What anybody may see: no URLs, no model or collection names, no error details."""
    llm = h.get("llm") or {}
    sessions = h.get("sessions") or {}
    return {"status": h.get("status"), "passages": h.get("passages"), "embedder": h.get("embedder"),
            "answerer": str(h.get("answerer", "")).split(":", 1)[0], "warm_cache": h.get("warm_cache"),
            "llm": {"configured": bool(llm.get("configured")), "state": llm.get("state")},
            "sessions": {"backend": sessions.get("backend"), "retention_days": sessions.get("retention_days")}}


def redact_url(url: str | None) -> str | None:
    """scheme://host:port/path: user, password, query and fragment removed."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    try:
        u = urlsplit(url)
        host = u.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{u.port}" if u.port else "")
    except ValueError:
        return "(ungültige URL)"
    return urlunsplit((u.scheme, netloc, u.path, "", ""))


def _admin_health(h: dict[str, Any], settings: Settings) -> dict[str, Any]:
    out = json.loads(json.dumps(h, default=str))
    llm = out.get("llm") or {}
    if "base_url" in llm:
        llm["base_url"] = redact_url(llm["base_url"])
    out["index"] = {**(out.get("index") or {}), "chroma_url": redact_url(settings.chroma_url)}
    out["sessions"] = {**(out.get("sessions") or {}), "database_url": redact_url(settings.database_url)}
    out["rate_limits"] = budgets_from(settings)
    return out


def _warm(svc: ChatService, stop: threading.Event) -> None:
    try:
        svc.warm(stop)
    except Exception as exc:  # noqa: BLE001 - warming is an optimisation; a failure must not stop serving
        log_failure(log, "warming the answer cache failed", exc)


async def _purge_loop(svc: ChatService) -> None:
    """Erase sessions past the retention period: at start, then every hour."""
    while True:
        try:
            n = await asyncio.to_thread(svc.store.purge_expired)
            if n:
                log.info("purged %d expired session(s)", n)
        except Exception as exc:
            log_failure(log, "session purge failed", exc)
        await asyncio.sleep(PURGE_EVERY_S)


_INDEX_HTML = """<!doctype html><html lang="de"><meta charset="utf-8"><title>KI-Lernbegleiter</title>
<body style="font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;line-height:1.5">
<h1>KI-Lernbegleiter</h1>
<p>Der Lernbegleiter beantwortet Fragen zur KI-Kompetenz in kleinen und mittleren Betrieben
und im Handwerk – mit Quellenangaben aus den Kursunterlagen.</p>
<h2>Schnittstellen</h2>
<ul><li><code>POST /api/chat</code> – Antwort als Server-Sent Events (meta, delta, sources, followups, done)</li>
<li><code>POST /api/search</code> – Passagen suchen</li><li><code>GET /api/health</code> – Zustand des Index</li>
<li><a href="/docs">/docs</a> – OpenAPI-Dokumentation</li></ul>
<pre>curl -N -X POST http://127.0.0.1:8000/api/chat -H 'Content-Type: application/json' \\
  -d '{"question": "Was muss der Betriebsrat bei KI beachten?", "role": "works_council"}'</pre>
</body></html>"""
