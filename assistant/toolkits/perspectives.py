""""Aus allen Blickwinkeln": one question answered for owner, works council and employee side by side.

The chat service is called once per role (its ``chat`` generator, the same path as every other
answer); the events are collected into one answer per role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ..roles import Role

ROLES = (Role.owner, Role.works_council, Role.employee)
INTERNAL_ERROR = "Bei der Beantwortung ist ein interner Fehler aufgetreten. Bitte versuchen Sie es erneut."


@dataclass
class RoleAnswer:
    role: str
    label: str
    answer: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    followups: list[str] = field(default_factory=list)
    error: str | None = None
    answerable: bool | None = None
    session_id: str | None = None
    message_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Chat = Callable[..., Iterator[dict[str, Any]]]


def answer_as(chat: Chat, question: str, role: Role) -> RoleAnswer:
    out = RoleAnswer(role.value, role.label)
    for ev in chat(question, role):
        kind, data = ev.get("event"), ev.get("data") or {}
        if kind == "meta":
            out.session_id = data.get("session_id")
        elif kind == "delta":
            out.answer += str(data.get("text", ""))
        elif kind == "reset":
            out.answer = ""
        elif kind == "notice" and data.get("message"):
            out.notices.append(str(data["message"]))
        elif kind == "sources":
            out.sources = [{k: s.get(k) for k in ("n", "title", "label", "heading_path", "stand", "text")}
                           for s in (data or [])]
        elif kind == "followups":
            out.followups = [str(q) for q in data or []]
        elif kind == "done":
            out.answerable = data.get("answerable")
            out.message_id = data.get("message_id")
        elif kind == "error":
            out.error = str(data.get("message") or INTERNAL_ERROR)
    return out


def perspectives(chat: Chat, question: str, roles: Iterable[Role] = ROLES) -> list[RoleAnswer]:
    """One answer per role, in the given order."""
    return [answer_as(chat, question, r) for r in roles]
