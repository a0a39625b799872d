"""HTTP API: a thin layer over ChatService. SSE formatting lives here, nowhere else."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator
from sse_starlette.sse import EventSourceResponse

from .deps import Service
from .roles import Role, parse_role
from .service import MAX_QUESTION_CHARS, ChatService
from .settings import Settings


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
        app.state.service = service or ChatService.build(settings)
        yield

    app = FastAPI(title="KI-Lernbegleiter", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message = " ".join(dict.fromkeys(_german(e) for e in errors))
        return JSONResponse(status_code=422, content={"error": message,
                                                      "details": json.loads(json.dumps(errors, default=str))})

    @app.post("/api/chat")
    def chat(req: ChatRequest, svc: Service) -> EventSourceResponse:
        events = svc.chat(req.question, req.role_enum(), req.filters.model_dump() if req.filters else None)
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

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _INDEX_HTML

    return app


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
