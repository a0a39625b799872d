"""HTTP API: a thin layer over ChatService. SSE formatting lives here, nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator
from sse_starlette.sse import EventSourceResponse

from .deps import Service
from .roles import Role, parse_role
from .service import MAX_QUESTION_CHARS, SESSION_GONE, ChatService
from .sessions import MessageNotFound, SessionNotFound
from .settings import Settings

log = logging.getLogger("lernbegleiter")
UI_DIR = Path(__file__).resolve().parent.parent / "ui"
PURGE_EVERY_S = 3600


class Filters(BaseModel):
    baustein: str | None = None
    typ: str | None = None
    source: str | None = None


class _RoleMixin(BaseModel):
    role: str | None = None

    @field_validator("role")
    @classmethod
    def _known_role(cls, v: str | None) -> str | None:
        parse_role(v)  # raises ValueError with a German message
        return v or None

    def role_enum(self) -> Role | None:
        return parse_role(self.role)


class ChatRequest(_RoleMixin):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    filters: Filters | None = None
    session_id: str | None = Field(None, max_length=64)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("Die Frage ist leer.")
        return v.strip()


class SearchRequest(_RoleMixin):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int = Field(8, ge=1, le=50)
    filters: Filters | None = None
    mode: Literal["hybrid", "lexical", "dense"] = "hybrid"


class SessionRequest(_RoleMixin):
    pass


class FeedbackRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64)
    message_id: str = Field(min_length=1, max_length=32)
    rating: Literal["up", "down"]
    remark: str | None = Field(None, max_length=1000)
    wrong_sources: list[int] = Field(default_factory=list, max_length=20)


class RateLimiter:
    """Sliding one-minute window per client, in memory only: the client key is never stored or logged."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.hits: dict[int, deque[float]] = {}

    def retry_after(self, client: str) -> int:
        """0 when the request may pass, else seconds to wait."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic()
        q = self.hits.setdefault(hash(client), deque())
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= self.per_minute:
            return max(1, int(60 - (now - q[0])) + 1)
        q.append(now)
        if len(self.hits) > 10000:  # forget idle clients
            self.hits = {k: v for k, v in self.hits.items() if v and now - v[-1] < 60}
        return 0


def _german(err: dict[str, Any]) -> str:
    where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "Anfrage"
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
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error") or err.get("msg"))
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"Feld „{where}“ hat den falschen Typ."
    return f"Feld „{where}“ ist ungültig."


def create_app(settings: Settings | None = None, service: ChatService | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = svc = service or ChatService.build(settings)
        purger = asyncio.create_task(_purge_loop(svc)) if svc.store is not None else None
        yield
        if purger is not None:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        if service is None:
            svc.close()

    app = FastAPI(title="KI-Lernbegleiter", version="0.1.0", lifespan=lifespan)
    limiter = RateLimiter(settings.rate_limit_per_minute)
    if settings.cors_origin_list:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Content-Type"], max_age=600)

    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message}, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = " ".join(dict.fromkeys(_german(e) for e in errors))
        return JSONResponse(status_code=422, content={"error": message,
                                                      "details": json.loads(json.dumps(errors, default=str))})

    @app.post("/api/chat", response_model=None)
    def chat(req: ChatRequest, request: Request, svc: Service) -> EventSourceResponse | JSONResponse:
        wait = limiter.retry_after(request.client.host if request.client else "-")
        if wait:
            return _error(429, f"Zu viele Fragen in kurzer Zeit. Bitte warten Sie {wait} Sekunden und versuchen "
                               "Sie es dann erneut.", {"Retry-After": str(wait)})
        try:  # an unknown session is answered before the stream starts
            session_id = svc.open_session(req.session_id, req.role_enum())
        except SessionNotFound:
            return _error(404, SESSION_GONE)
        events = svc.chat(req.question, req.role_enum(), req.filters.model_dump() if req.filters else None,
                          session_id=session_id)
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
    def health(svc: Service) -> dict[str, Any]:
        return svc.health()

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
        try:
            return _store(svc).export(session_id)
        except SessionNotFound:
            return _error(404, SESSION_GONE)

    @app.delete("/api/sessions/{session_id}", status_code=204, response_model=None)
    def delete_session(session_id: str, svc: Service) -> Response:
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

    # --- widget, demo page, tutor -----------------------------------------------------------

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        return FileResponse(UI_DIR / "widget" / "widget.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"})

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
        mount_tutor(app, lambda: app.state.service)

    return app


async def _purge_loop(svc: ChatService) -> None:
    """Erase sessions past the retention period: at start, then every hour."""
    while True:
        try:
            n = await asyncio.to_thread(svc.store.purge_expired)
            if n:
                log.info("purged %d expired session(s)", n)
        except Exception:
            log.exception("session purge failed")
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
