"""HTTP routes of the toolkits: POST /api/briefing, POST /api/check (JSON, Markdown, DOCX or PDF) and
POST /api/perspectives ("Aus allen Blickwinkeln"). A thin layer over assistant.toolkits and ChatService;
validation errors become German 422 answers through the app's handler (assistant/web/api.py)."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ..guards import log_failure
from ..roles import Role
from ..service import MAX_QUESTION_CHARS
from ..toolkits.briefing import BriefingInput
from ..toolkits.check import CheckInput
from ..toolkits.course import CourseError
from ..toolkits.document import FORMATS, Document, to_markdown
from ..toolkits.perspectives import ROLES, perspectives
from ..toolkits.rules import DATEN, EINSATZ
from ..toolkits.service import Toolkits, shared
from .deps import Service

log = logging.getLogger("lernbegleiter")
router = APIRouter()

_BAD = re.compile("[\x00\ud800-\udfff]")
OUTPUTS = ("json", *FORMATS)
UNKNOWN_FORMAT = "Unbekanntes Format. Erlaubt sind: " + ", ".join(OUTPUTS) + "."
NO_COURSE = "Die Kursunterlagen für Briefing und Prüfung sind auf diesem Server nicht verfügbar."
UNKNOWN_EINSATZ = "Unbekannter Einsatzbereich. Erlaubt sind: " + ", ".join(EINSATZ) + "."
UNKNOWN_DATEN = "Unbekannte Datenart. Erlaubt sind: " + ", ".join(DATEN) + "."
UNKNOWN_ROLE = "Unbekannte Rolle. Erlaubt sind: " + ", ".join(f"{r.value} ({r.label})" for r in Role) + "."


def _text(v: str | None) -> str | None:
    if v is not None and _BAD.search(v):
        raise PydanticCustomError("bad_chars", "text contains NUL or a lone surrogate")
    return v


def _known(values: list[str], allowed: tuple[str, ...], message: str) -> list[str]:
    if any(v not in allowed for v in values):
        raise ValueError(message)  # never repeats the input
    return list(dict.fromkeys(values))


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beschaeftigte: int | None = Field(None, ge=1, le=1_000_000)
    betriebsrat: bool = False
    einsatz: list[str] = Field(default_factory=list, max_length=len(EINSATZ))
    daten: list[str] = Field(default_factory=list, max_length=len(DATEN))
    cloud: bool = False
    entscheidet: bool = False
    arbeit_aendert: bool = False

    @field_validator("einsatz")
    @classmethod
    def _einsatz(cls, v: list[str]) -> list[str]:
        return _known(v, EINSATZ, UNKNOWN_EINSATZ)

    @field_validator("daten")
    @classmethod
    def _daten(cls, v: list[str]) -> list[str]:
        return _known(v, DATEN, UNKNOWN_DATEN)


class BriefingRequest(_Case):
    branche: str = Field(min_length=1, max_length=200)
    werkzeuge: str = Field("", max_length=1000)
    ziele: str = Field("", max_length=1000)
    sorgen: str = Field("", max_length=1000)

    @field_validator("branche", "werkzeuge", "ziele", "sorgen")
    @classmethod
    def _clean(cls, v: str) -> str:
        _text(v)
        return v.strip()

    @field_validator("branche")
    @classmethod
    def _branche(cls, v: str) -> str:
        if not v:
            raise ValueError("Bitte die Branche des Betriebs angeben.")
        return v


class CheckRequest(_Case):
    betriebsrat: bool = True
    beschreibung: str = Field(min_length=1, max_length=2000)
    betroffene: str = Field("", max_length=500)
    anbieter: str = Field("", max_length=300)

    @field_validator("beschreibung", "betroffene", "anbieter")
    @classmethod
    def _clean(cls, v: str) -> str:
        _text(v)
        return v.strip()

    @field_validator("beschreibung")
    @classmethod
    def _beschreibung(cls, v: str) -> str:
        if not v:
            raise ValueError("Bitte beschreiben Sie, was das KI-System tut.")
        return v


class PerspectivesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    roles: list[str] = Field(default_factory=lambda: [r.value for r in ROLES], min_length=1, max_length=4)

    @field_validator("question")
    @classmethod
    def _question(cls, v: str) -> str:
        _text(v)
        if not v.strip():
            raise ValueError("Die Frage ist leer.")
        return v.strip()

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        return _known(v, tuple(r.value for r in Role), UNKNOWN_ROLE)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


def _toolkits(request: Request) -> Toolkits | JSONResponse:
    try:
        return shared(request.app.state)
    except (CourseError, OSError, ValueError) as exc:
        log_failure(log, "toolkits not loaded", exc)
        return _error(503, NO_COURSE)


def _respond(doc: Document, fmt: str) -> Response:
    if fmt == "json":
        return JSONResponse({"document": doc.to_dict(), "markdown": to_markdown(doc)})
    return Response(doc.render(fmt), media_type=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{doc.filename(fmt)}"',
                             "Cache-Control": "no-store"})


@router.post("/api/briefing", response_model=None)
def briefing(req: BriefingRequest, request: Request, format: str = "json") -> Response:
    """Briefing für ein Beratungsgespräch; ``?format=json|md|docx|pdf``."""
    if format not in OUTPUTS:
        return _error(422, UNKNOWN_FORMAT)
    tk = _toolkits(request)
    if isinstance(tk, JSONResponse):
        return tk
    return _respond(tk.briefing(BriefingInput(**req.model_dump())), format)


@router.post("/api/check", response_model=None)
def check(req: CheckRequest, request: Request, format: str = "json") -> Response:
    """Prüfung eines KI-Systems für den Betriebsrat; ``?format=json|md|docx|pdf``."""
    if format not in OUTPUTS:
        return _error(422, UNKNOWN_FORMAT)
    tk = _toolkits(request)
    if isinstance(tk, JSONResponse):
        return tk
    return _respond(tk.check(CheckInput(**req.model_dump())), format)


@router.post("/api/perspectives")
def perspectives_route(req: PerspectivesRequest, svc: Service) -> dict[str, Any]:
    """Dieselbe Frage aus mehreren Blickwinkeln: eine Antwort je Rolle (Standard: Geschäftsführung,
    Betriebsrat, Beschäftigte)."""
    answers = perspectives(svc.chat, req.question, [Role(r) for r in req.roles])
    return {"question": req.question, "answers": [a.to_dict() for a in answers]}
