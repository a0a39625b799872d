"""HTTP routes for learning: paths, units, quizzes, progress, records, teams, and the learning
page. A thin layer over LearningService; every error is {"error": "<German sentence>"}.

The service is built on first use from the chat service's store engine (same database, SQLite or
PostgreSQL), so create_app needs one line: app.include_router(learning_router(settings))."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator

from ..learning.service import LearningError, LearningService
from ..normen import DEFAULT_CORPUS
from ..roles import Role, parse_role
from ..settings import Settings
from ..store.learning import LearningStore

log = logging.getLogger("lernbegleiter")
UI_LEARNING = Path(__file__).resolve().parents[2] / "ui" / "learning"
ID = r"^[A-Za-z0-9_-]+$"
_ID = re.compile(ID)
_UNIT = re.compile(r"^[a-z0-9-]{1,120}$")
_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
ROLE_NEEDED = ("Bitte wählen Sie eine Rolle: " + ", ".join(f"{r.value} ({r.label})" for r in Role) + ".")
STORE_OFF = "Lernfortschritte werden auf diesem Server nicht gespeichert."
STATIC = {"learning.js": "text/javascript; charset=utf-8", "learning.css": "text/css; charset=utf-8"}


def _role(v: str | None) -> str | None:
    try:
        parse_role(v)
    except ValueError:
        raise ValueError(ROLE_NEEDED) from None
    return v or None


def _name(v: str | None) -> str | None:
    if v is None:
        return None
    if _BAD.search(v):
        raise ValueError("Der Name enthält unzulässige Zeichen.")
    return " ".join(v.split()) or None


class LearnerRequest(BaseModel):
    role: str
    display_name: str | None = Field(None, max_length=120)

    @field_validator("role")
    @classmethod
    def _r(cls, v: str) -> str:
        if not _role(v):
            raise ValueError(ROLE_NEEDED)
        return v

    @field_validator("display_name")
    @classmethod
    def _n(cls, v: str | None) -> str | None:
        return _name(v)


class LearnerUpdate(BaseModel):
    role: str | None = None
    display_name: str | None = Field(None, max_length=120)
    clear_name: bool = False

    @field_validator("role")
    @classmethod
    def _r(cls, v: str | None) -> str | None:
        return _role(v)

    @field_validator("display_name")
    @classmethod
    def _n(cls, v: str | None) -> str | None:
        return _name(v)


class ProgressRequest(BaseModel):
    unit_id: str = Field(min_length=1, max_length=120, pattern=r"^[a-z0-9-]+$")
    event: Literal["opened", "completed", "time"]
    seconds: int = Field(0, ge=0, le=86400)


class AttemptRequest(BaseModel):
    answers: dict[str, list[int] | bool | int] = Field(min_length=1, max_length=50)
    review: bool = False

    @field_validator("answers")
    @classmethod
    def _ids(cls, v: dict[str, Any]) -> dict[str, Any]:
        for k, a in v.items():
            if not _UNIT.match(k):
                raise ValueError("Eine der Fragen gibt es nicht (unbekannte Frage-ID).")
            if isinstance(a, list) and len(a) > 10:
                raise ValueError("Zu viele Antwortoptionen angegeben.")
        return v


class TeamRequest(BaseModel):
    name: str = Field(min_length=1, max_length=120)

    @field_validator("name")
    @classmethod
    def _clean(cls, v: str) -> str:
        v = _name(v) or ""
        if not v:
            raise ValueError("Bitte geben Sie dem Team einen Namen.")
        return v


class JoinRequest(BaseModel):
    team_code: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9]*$")


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message}, headers={"Cache-Control": "no-store"})


def learning_router(settings: Settings, corpus_dir: Path | None = None) -> APIRouter:
    router = APIRouter()
    lock = threading.Lock()
    corpus = corpus_dir or DEFAULT_CORPUS

    def learning(request: Request) -> LearningService:
        svc = getattr(request.app.state, "learning", None)
        if svc is not None:
            return svc
        with lock:
            svc = getattr(request.app.state, "learning", None)
            if svc is None:
                chat = getattr(request.app.state, "service", None)
                store = getattr(chat, "store", None)
                if store is None:
                    raise LearningError(STORE_OFF, 503)
                svc = LearningService.build(corpus, LearningStore(store.engine, settings.learning_retention_days))
                request.app.state.learning = svc
        return svc

    def call(request: Request, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return fn(learning(request), *args, **kwargs)
        except LearningError as e:
            return _err(e.status, str(e))

    def learner_ok(learner_id: str) -> bool:
        return 0 < len(learner_id) <= 64 and _ID.match(learner_id) is not None and "\n" not in learner_id

    gone = "Diese Lerndaten gibt es nicht (mehr) – vielleicht wurden sie gelöscht. Bitte beginnen Sie Ihren Lernpfad neu."

    # --- course -------------------------------------------------------------------------

    @router.get("/api/learning/paths", response_model=None)
    def paths(request: Request) -> Any:
        return call(request, lambda s: {"paths": s.paths()})

    @router.get("/api/learning/paths/{role}", response_model=None)
    def path(role: str, request: Request) -> Any:
        try:
            r = parse_role(role)
        except ValueError:
            r = None
        if r is None:
            return _err(404, "Einen Lernpfad für diese Rolle gibt es nicht. " + ROLE_NEEDED)
        return call(request, lambda s: s.path(r))

    @router.get("/api/learning/units/{unit_id}", response_model=None)
    def unit(unit_id: str, request: Request, role: str | None = None) -> Any:
        if not _UNIT.match(unit_id):
            return _err(404, "Diese Lerneinheit gibt es nicht.")
        try:
            r = parse_role(role)
        except ValueError:
            return _err(422, ROLE_NEEDED)
        return call(request, lambda s: s.unit(unit_id, r))

    @router.get("/api/learning/units/{unit_id}/quiz", response_model=None)
    def quiz(unit_id: str, request: Request) -> Any:
        if not _UNIT.match(unit_id):
            return _err(404, "Diese Lerneinheit gibt es nicht.")
        return call(request, lambda s: s.quiz(unit_id))

    # --- learners -----------------------------------------------------------------------

    @router.post("/api/learning/learners", response_model=None, status_code=201)
    def create_learner(req: LearnerRequest, request: Request) -> Any:
        return call(request, lambda s: s.create_learner(Role(req.role), req.display_name))

    def with_learner(learner_id: str, request: Request, fn):  # noqa: ANN001, ANN202
        if not learner_ok(learner_id):
            return _err(404, gone)
        return call(request, fn)

    @router.get("/api/learning/learners/{learner_id}", response_model=None)
    def export(learner_id: str, request: Request) -> Any:
        """Everything stored about the learner (JSON download)."""
        return with_learner(learner_id, request, lambda s: s.export(learner_id))

    @router.patch("/api/learning/learners/{learner_id}", response_model=None)
    def update(learner_id: str, req: LearnerUpdate, request: Request) -> Any:
        return with_learner(learner_id, request, lambda s: s.update_learner(
            learner_id, parse_role(req.role), req.display_name, req.clear_name))

    @router.delete("/api/learning/learners/{learner_id}", response_model=None, status_code=204)
    def delete(learner_id: str, request: Request) -> Any:
        out = with_learner(learner_id, request, lambda s: s.delete_learner(learner_id))
        return out if isinstance(out, JSONResponse) else Response(status_code=204)

    @router.get("/api/learning/learners/{learner_id}/progress", response_model=None)
    def progress(learner_id: str, request: Request) -> Any:
        return with_learner(learner_id, request, lambda s: s.progress(learner_id))

    @router.post("/api/learning/learners/{learner_id}/progress", response_model=None)
    def add_progress(learner_id: str, req: ProgressRequest, request: Request) -> Any:
        return with_learner(learner_id, request,
                            lambda s: s.record_event(learner_id, req.unit_id, req.event, req.seconds))

    @router.post("/api/learning/learners/{learner_id}/attempts", response_model=None)
    def attempts(learner_id: str, req: AttemptRequest, request: Request) -> Any:
        return with_learner(learner_id, request, lambda s: s.submit(learner_id, req.answers, req.review))

    @router.get("/api/learning/learners/{learner_id}/record.pdf", response_model=None)
    def record(learner_id: str, request: Request) -> Any:
        out = with_learner(learner_id, request, lambda s: s.record(learner_id))
        if isinstance(out, JSONResponse):
            return out
        pdf, vid = out
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="nachweis-ki-kompetenz-{vid}.pdf"',
            "Cache-Control": "no-store", "X-Verification-Id": vid})

    @router.put("/api/learning/learners/{learner_id}/team", response_model=None)
    def join(learner_id: str, req: JoinRequest, request: Request) -> Any:
        return with_learner(learner_id, request, lambda s: s.join_team(learner_id, req.team_code or None))

    @router.get("/api/learning/records/{record_id}", response_model=None)
    def verify(record_id: str, request: Request) -> Any:
        if not re.fullmatch(r"[A-Fa-f0-9]{12}", record_id):
            return _err(404, "Zu dieser Prüf-ID gibt es keinen Nachweis (mehr).")
        return call(request, lambda s: s.verify(record_id))

    # --- teams --------------------------------------------------------------------------

    @router.post("/api/learning/teams", response_model=None, status_code=201)
    def create_team(req: TeamRequest, request: Request) -> Any:
        return call(request, lambda s: s.create_team(req.name))

    def team_key(x_team_key: str | None) -> str:
        return (x_team_key or "").strip()

    @router.get("/api/learning/teams/{code}/summary", response_model=None)
    def team_summary(code: str, request: Request, x_team_key: str | None = Header(None)) -> Any:
        if not re.fullmatch(r"[A-Za-z0-9]{1,32}", code):
            return _err(404, "Zu diesem Team-Code gibt es kein Team.")
        return call(request, lambda s: s.team_summary(code, team_key(x_team_key)))

    @router.get("/api/learning/teams/{code}/record.pdf", response_model=None)
    def team_record(code: str, request: Request, x_team_key: str | None = Header(None)) -> Any:
        if not re.fullmatch(r"[A-Za-z0-9]{1,32}", code):
            return _err(404, "Zu diesem Team-Code gibt es kein Team.")
        out = call(request, lambda s: s.team_record(code, team_key(x_team_key)))
        if isinstance(out, JSONResponse):
            return out
        return Response(out, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="team-ki-kompetenz.pdf"', "Cache-Control": "no-store"})

    # --- pages --------------------------------------------------------------------------

    @router.get("/lernen", response_model=None, include_in_schema=False)
    @router.get("/lernen/", response_model=None, include_in_schema=False)
    def page() -> Any:
        return FileResponse(UI_LEARNING / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @router.get("/lernen/{name}", response_model=None, include_in_schema=False)
    def asset(name: str) -> Any:
        if name not in STATIC:
            return _err(404, "Diese Adresse gibt es nicht.")
        return FileResponse(UI_LEARNING / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @router.get("/was-wird-gespeichert", response_model=None, response_class=HTMLResponse, include_in_schema=False)
    def data_sheet() -> Any:
        page = (UI_LEARNING / "was-wird-gespeichert.html").read_text(encoding="utf-8")
        page = page.replace("{{SESSION_DAYS}}", str(settings.retention_days))
        return HTMLResponse(page.replace("{{LEARNING_DAYS}}", str(settings.learning_retention_days)))

    return router
