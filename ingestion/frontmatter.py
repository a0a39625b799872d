"""Validation of Markdown front matter: known fields must have the types search relies on.

Foreign documents may carry any other keys (kept as metadata); documents without front
matter are not affected. A known field with a wrong type (``rollen: 5``) is refused at
ingest, with a German reason, instead of breaking every later search that touches it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .limits import LoadError

ROLES = ("owner", "employee", "works_council", "consultant")

# German description of what each known field must be (shown to the user)
EXPECTED = {
    "id": "ein Text (z. B. ki-grundlagen-01)",
    "titel": "ein Text",
    "title": "ein Text",
    "typ": "ein Text",
    "baustein": "ein Text",
    "rollen": f"eine Liste von Rollen aus {', '.join(ROLES)}",
    "schlagworte": "eine Liste von Begriffen",
    "quellen": "eine Liste von Texten",
    "verwandt": "eine Liste von IDs",
    "stand": "ein Datum im Format JJJJ-MM-TT",
    "nr": "eine ganze Zahl",
    "fragen": "eine Liste von Fragen mit den Feldern frage, rollen, abschnitt und beleg (Texte)",
}


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
        raise ValueError("not a scalar")
    return str(value)


def _text_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError("not a list")
    return [_scalar_text(v) for v in value if v is not None]


class FrontMatter(BaseModel):
    """The fields of the course schema (corpus/README.md); all optional, other keys allowed."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    titel: str | None = None
    title: str | None = None
    typ: str | None = None
    baustein: str | None = None
    rollen: list[str] | None = None
    schlagworte: list[str] | None = None
    quellen: list[str] | None = None
    verwandt: list[str] | None = None
    stand: dt.date | None = None
    nr: int | None = None
    fragen: list[dict[str, Any]] | None = None

    @field_validator("id", "titel", "title", "typ", "baustein", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return None if v is None else _scalar_text(v)

    @field_validator("schlagworte", "quellen", "verwandt", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        return _text_list(v)

    @field_validator("rollen", mode="before")
    @classmethod
    def _roles(cls, v: Any) -> Any:
        roles = _text_list(v)
        if any(r not in ROLES for r in roles):
            raise ValueError("unknown role")
        return roles

    @field_validator("stand", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date) or v is None:
            return v
        if isinstance(v, str):
            return dt.date.fromisoformat(v.strip())
        raise ValueError("not a date")

    @field_validator("fragen", mode="before")
    @classmethod
    def _questions(cls, v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, list):
            raise ValueError("not a list")
        out = []
        for item in v:
            if not isinstance(item, dict) or not isinstance(item.get("frage"), str) \
                    or not isinstance(item.get("abschnitt"), str):
                raise ValueError("not a question")
            roles = _text_list(item.get("rollen"))
            if any(r not in ROLES for r in roles):
                raise ValueError("unknown role")
            out.append({"frage": item["frage"], "rollen": roles, "abschnitt": item["abschnitt"],
                        "beleg": _scalar_text(item.get("beleg") or "")})
        return out

    @field_validator("nr", mode="before")
    @classmethod
    def _int(cls, v: Any) -> Any:
        if isinstance(v, bool) or isinstance(v, float) and not v.is_integer():
            raise ValueError("not an int")
        return v


def validate_front_matter(meta: dict[str, Any]) -> dict[str, Any]:
    """Known fields checked and normalised; unknown keys kept. LoadError with a German reason."""
    try:
        model = FrontMatter.model_validate({str(k): v for k, v in meta.items()})
    except ValidationError as err:
        fields = sorted({str(e["loc"][0]) for e in err.errors() if e.get("loc")})
        detail = "; ".join(f"„{f}“ muss {EXPECTED.get(f, 'gültig')} sein" for f in fields)
        raise LoadError(f"Der YAML-Kopf (Front Matter) hat ungültige Werte: {detail}.") from None
    clean = {str(k): v for k, v in meta.items()}
    for name in FrontMatter.model_fields:
        if name in clean:
            value = getattr(model, name)
            if value is None or value == []:
                clean.pop(name)
            else:
                clean[name] = value
    return clean
