"""Chat sessions, their messages, cited sources and feedback, stored through SQLAlchemy.

SQLite file under the data directory by default; PostgreSQL (or any SQLAlchemy URL) via
LB_DATABASE_URL. No accounts: a session is known by an opaque random id. IP addresses are
never stored, and no message text is ever logged. Sessions idle longer than the retention
period are erased by purge_expired().
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, create_engine, delete, event,
                        func, select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class SessionNotFound(LookupError):
    pass


class MessageNotFound(LookupError):
    pass


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC: the same on SQLite and PostgreSQL


class Base(DeclarativeBase):
    pass


class ChatSession(Base):
    __tablename__ = "lb_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)


class Message(Base):
    __tablename__ = "lb_messages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("lb_sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # user | assistant
    text: Mapped[str] = mapped_column(Text)
    standalone_question: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(32))
    answerer: Mapped[str | None] = mapped_column(String(128))
    prompt_name: Mapped[str | None] = mapped_column(String(128))
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    answerable: Mapped[bool | None] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    sources: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class Feedback(Base):
    __tablename__ = "lb_feedback"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("lb_sessions.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("lb_messages.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    remark: Mapped[str | None] = mapped_column(Text)
    wrong_sources: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


@dataclass
class Turn:
    """One earlier question with its answer, as used to understand a follow-up."""
    question: str
    standalone_question: str
    answer: str
    role: str | None
    topic_title: str | None = None  # title of the first source the answer cited


class SessionStore:
    def __init__(self, url: str, retention_days: int = 30, sqlite_timeout: float = 30) -> None:
        self.url = url
        self.retention_days = retention_days
        # SQL parameters (question text, session ids) must never reach a log: SQLAlchemy puts them into
        # the message of every database error unless hide_parameters is set
        kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": sqlite_timeout}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(conn, _record):  # noqa: ANN001
                cur = conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # --- sessions -----------------------------------------------------------------------------

    def create(self, role: str | None = None) -> ChatSession:
        s = ChatSession(id=secrets.token_urlsafe(24), role=role)
        with self._sessions.begin() as db:
            db.add(s)
        return s

    def get(self, session_id: str) -> ChatSession:
        with self._sessions() as db:
            s = db.get(ChatSession, session_id) if session_id else None
            if s is None or s.updated_at < _now() - timedelta(days=self.retention_days):
                raise SessionNotFound(session_id)
            return s

    def touch(self, session_id: str, role: str | None) -> None:
        with self._sessions.begin() as db:
            s = db.get(ChatSession, session_id)
            if s is None:
                raise SessionNotFound(session_id)
            s.updated_at = _now()
            s.role = role

    def delete(self, session_id: str) -> None:
        """Erase the session and everything in it (children first: no reliance on FK cascades)."""
        with self._sessions.begin() as db:
            if db.get(ChatSession, session_id) is None:
                raise SessionNotFound(session_id)
            db.execute(delete(Feedback).where(Feedback.session_id == session_id))
            db.execute(delete(Message).where(Message.session_id == session_id))
            db.execute(delete(ChatSession).where(ChatSession.id == session_id))

    def purge_expired(self, now: datetime | None = None) -> int:
        cutoff = (now or _now()) - timedelta(days=self.retention_days)
        with self._sessions.begin() as db:
            old = select(ChatSession.id).where(ChatSession.updated_at < cutoff)
            db.execute(delete(Feedback).where(Feedback.session_id.in_(old)))
            db.execute(delete(Message).where(Message.session_id.in_(old)))
            return db.execute(delete(ChatSession).where(ChatSession.updated_at < cutoff)).rowcount or 0

    def count_sessions(self) -> int:
        with self._sessions() as db:
            return db.scalar(select(func.count()).select_from(ChatSession)) or 0

    # --- messages -----------------------------------------------------------------------------

    def add_message(self, session_id: str, kind: str, text: str, *, message_id: str | None = None,
                    standalone_question: str | None = None, role: str | None = None, answerer: str | None = None,
                    prompt: dict[str, str] | None = None, answerable: bool | None = None, complete: bool = True,
                    sources: list[dict[str, Any]] | None = None) -> str:
        mid = message_id or uuid.uuid4().hex
        with self._sessions.begin() as db:
            s = db.get(ChatSession, session_id)
            if s is None:
                raise SessionNotFound(session_id)
            seq = (db.scalar(select(func.max(Message.seq)).where(Message.session_id == session_id)) or 0) + 1
            db.add(Message(id=mid, session_id=session_id, seq=seq, kind=kind, text=text,
                           standalone_question=standalone_question, role=role, answerer=answerer,
                           prompt_name=(prompt or {}).get("name"), prompt_sha256=(prompt or {}).get("sha256"),
                           answerable=answerable, complete=complete, sources=sources))
            s.updated_at = _now()
        return mid

    def history(self, session_id: str, turns: int = 3) -> list[Turn]:
        """The last `turns` question/answer pairs, oldest first."""
        with self._sessions() as db:
            rows = db.scalars(select(Message).where(Message.session_id == session_id)
                              .order_by(Message.seq.desc()).limit(turns * 2 + 2)).all()
        rows = list(reversed(rows))
        out: list[Turn] = []
        pending: Message | None = None
        for m in rows:
            if m.kind == "user":
                pending = m
            elif pending is not None:
                first = (m.sources or [{}])[0]
                out.append(Turn(pending.text, pending.standalone_question or pending.text, m.text, m.role,
                                first.get("title") if isinstance(first, dict) else None))
                pending = None
        return out[-turns:]

    # --- feedback -----------------------------------------------------------------------------

    def add_feedback(self, session_id: str, message_id: str, rating: str, remark: str | None = None,
                     wrong_sources: list[int] | None = None) -> str:
        fid = uuid.uuid4().hex
        with self._sessions.begin() as db:
            s = db.get(ChatSession, session_id)
            if s is None or s.updated_at < _now() - timedelta(days=self.retention_days):
                raise SessionNotFound(session_id)  # an expired session is gone, even before the purge ran
            m = db.get(Message, message_id)
            if m is None or m.session_id != session_id or m.kind != "assistant":
                raise MessageNotFound(message_id)
            db.add(Feedback(id=fid, session_id=session_id, message_id=message_id, rating=rating, remark=remark,
                            wrong_sources=sorted(set(wrong_sources or [])) or None))
        return fid

    # --- export -------------------------------------------------------------------------------

    def export(self, session_id: str) -> dict[str, Any]:
        s = self.get(session_id)
        with self._sessions() as db:
            msgs = db.scalars(select(Message).where(Message.session_id == session_id).order_by(Message.seq)).all()
            fbs = db.scalars(select(Feedback).where(Feedback.session_id == session_id)
                             .order_by(Feedback.created_at)).all()
        by_msg: dict[str, list[dict[str, Any]]] = {}
        for f in fbs:
            by_msg.setdefault(f.message_id, []).append(
                {"id": f.id, "rating": f.rating, "remark": f.remark, "wrong_sources": f.wrong_sources or [],
                 "created_at": f.created_at.isoformat() + "Z"})
        return {
            "session_id": s.id, "role": s.role, "created_at": s.created_at.isoformat() + "Z",
            "updated_at": s.updated_at.isoformat() + "Z", "retention_days": self.retention_days,
            "messages": [{
                "id": m.id, "kind": m.kind, "text": m.text, "standalone_question": m.standalone_question,
                "role": m.role, "answerer": m.answerer, "answerable": m.answerable, "complete": m.complete,
                "prompt": {"name": m.prompt_name, "sha256": m.prompt_sha256} if m.prompt_name else None,
                "sources": m.sources or [], "created_at": m.created_at.isoformat() + "Z",
                "feedback": by_msg.get(m.id, []),
            } for m in msgs],
        }
