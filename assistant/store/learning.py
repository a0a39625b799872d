"""Learning progress under a pseudonymous learner id, teams, and issued records (SQLAlchemy).

The tables share the Base (and, in the app, the engine) of the chat sessions, so SQLite and
PostgreSQL both work. No account: a learner is an opaque random id held by the browser; the
optional display name is only printed on the learner's own record. A team is known by a join
code; its summary needs the separate owner key, stored only as a SHA-256 hash. Nothing here
stores an IP address, and a learner's rows are all erased by delete_learner()."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Integer, String, create_engine, delete, event,
                        select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .sessions import Base, _now


class LearnerNotFound(LookupError):
    pass


class TeamNotFound(LookupError):
    pass


class Learner(Base):
    __tablename__ = "lb_learners"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(120))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("lb_teams.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)


class Team(Base):
    __tablename__ = "lb_teams"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)  # join code learners enter
    name: Mapped[str] = mapped_column(String(120))
    owner_key_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class UnitEvent(Base):
    __tablename__ = "lb_unit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("lb_learners.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # opened | completed | time
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class QuizAttempt(Base):
    __tablename__ = "lb_quiz_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(ForeignKey("lb_learners.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(120))
    item_id: Mapped[str] = mapped_column(String(160))
    correct: Mapped[bool] = mapped_column(Boolean)
    answer: Mapped[Any] = mapped_column(JSON)
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class IssuedRecord(Base):
    __tablename__ = "lb_records"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the verification id printed on the PDF
    learner_id: Mapped[str] = mapped_column(ForeignKey("lb_learners.id", ondelete="CASCADE"), index=True)
    summary: Mapped[Any] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))  # of the summary, as printed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


LEARNING_TABLES = [Team.__table__, Learner.__table__, UnitEvent.__table__, QuizAttempt.__table__,
                   IssuedRecord.__table__]


@dataclass
class LearnerData:
    """Everything stored about one learner, oldest first."""
    learner: Learner
    team_name: str | None
    events: list[UnitEvent]
    attempts: list[QuizAttempt]
    records: list[IssuedRecord]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def engine_for(url: str, sqlite_timeout: float = 30) -> Engine:
    """An engine as the session store builds it (used when the learning store stands alone: CLI, tests)."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": sqlite_timeout}
    eng = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(eng, "connect")
        def _pragmas(conn, _record):  # noqa: ANN001
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()
    return eng


class LearningStore:
    def __init__(self, engine: Engine, retention_days: int = 730) -> None:
        self.engine = engine
        self.retention_days = retention_days
        Base.metadata.create_all(engine, tables=LEARNING_TABLES)
        self._db = sessionmaker(engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    # --- learners -----------------------------------------------------------------------------

    def create_learner(self, role: str, display_name: str | None = None) -> Learner:
        learner = Learner(id=secrets.token_urlsafe(24), role=role, display_name=display_name)
        with self._db.begin() as db:
            db.add(learner)
        return learner

    def _live(self, db, learner_id: str) -> Learner:  # noqa: ANN001
        learner = db.get(Learner, learner_id) if learner_id else None
        if learner is None or learner.updated_at < _now() - timedelta(days=self.retention_days):
            raise LearnerNotFound(learner_id)
        return learner

    def get_learner(self, learner_id: str) -> Learner:
        with self._db() as db:
            return self._live(db, learner_id)

    def update_learner(self, learner_id: str, role: str | None = None, display_name: str | None = None,
                       clear_name: bool = False) -> Learner:
        with self._db.begin() as db:
            learner = self._live(db, learner_id)
            if role:
                learner.role = role
            if display_name is not None or clear_name:
                learner.display_name = display_name or None
            learner.updated_at = _now()
            return learner

    def delete_learner(self, learner_id: str) -> None:
        """Erase the learner and every row about them (children first: no reliance on FK cascades)."""
        with self._db.begin() as db:
            if db.get(Learner, learner_id) is None:
                raise LearnerNotFound(learner_id)
            for model in (IssuedRecord, QuizAttempt, UnitEvent):
                db.execute(delete(model).where(model.learner_id == learner_id))
            db.execute(delete(Learner).where(Learner.id == learner_id))

    def purge_expired(self, now: datetime | None = None) -> int:
        cutoff = (now or _now()) - timedelta(days=self.retention_days)
        with self._db.begin() as db:
            old = select(Learner.id).where(Learner.updated_at < cutoff)
            for model in (IssuedRecord, QuizAttempt, UnitEvent):
                db.execute(delete(model).where(model.learner_id.in_(old)))
            return db.execute(delete(Learner).where(Learner.updated_at < cutoff)).rowcount or 0

    # --- progress -----------------------------------------------------------------------------

    def add_event(self, learner_id: str, unit_id: str, kind: str, seconds: int = 0) -> None:
        with self._db.begin() as db:
            learner = self._live(db, learner_id)
            db.add(UnitEvent(learner_id=learner_id, unit_id=unit_id, kind=kind, seconds=seconds))
            learner.updated_at = _now()

    def add_attempts(self, learner_id: str, rows: list[tuple[str, str, bool, Any]], review: bool,
                     at: datetime | None = None) -> None:
        """rows: (unit id, item id, correct, answer as given)."""
        when = at or _now()
        with self._db.begin() as db:
            learner = self._live(db, learner_id)
            for unit_id, item_id, correct, answer in rows:
                db.add(QuizAttempt(learner_id=learner_id, unit_id=unit_id, item_id=item_id, correct=correct,
                                   answer=answer, review=review, at=when))
            learner.updated_at = _now()

    def data(self, learner_id: str) -> LearnerData:
        with self._db() as db:
            learner = self._live(db, learner_id)
            team = db.get(Team, learner.team_id) if learner.team_id else None
            events = list(db.scalars(select(UnitEvent).where(UnitEvent.learner_id == learner_id)
                                     .order_by(UnitEvent.at, UnitEvent.id)))
            attempts = list(db.scalars(select(QuizAttempt).where(QuizAttempt.learner_id == learner_id)
                                       .order_by(QuizAttempt.at, QuizAttempt.id)))
            records = list(db.scalars(select(IssuedRecord).where(IssuedRecord.learner_id == learner_id)
                                      .order_by(IssuedRecord.created_at)))
        return LearnerData(learner, team.name if team else None, events, attempts, records)

    # --- records ------------------------------------------------------------------------------

    def issue_record(self, learner_id: str, summary: dict[str, Any], digest_text: str) -> IssuedRecord:
        rec = IssuedRecord(id=secrets.token_hex(6).upper(), learner_id=learner_id, summary=summary,
                           sha256=_sha(digest_text))
        with self._db.begin() as db:
            self._live(db, learner_id)
            db.add(rec)
        return rec

    def find_record(self, record_id: str) -> IssuedRecord | None:
        with self._db() as db:
            return db.get(IssuedRecord, record_id)

    # --- teams --------------------------------------------------------------------------------

    def create_team(self, name: str) -> tuple[Team, str]:
        """The team and its owner key (returned once; only its hash is stored)."""
        key = secrets.token_urlsafe(24)
        team = Team(id=secrets.token_hex(16), code=secrets.token_hex(4).upper(), name=name,
                    owner_key_sha256=_sha(key))
        with self._db.begin() as db:
            db.add(team)
        return team, key

    def team_by_code(self, code: str) -> Team:
        with self._db() as db:
            team = db.scalar(select(Team).where(Team.code == code.upper())) if code else None
        if team is None:
            raise TeamNotFound(code)
        return team

    def owner_key_ok(self, team: Team, key: str) -> bool:
        return secrets.compare_digest(team.owner_key_sha256, _sha(key or ""))

    def join_team(self, learner_id: str, code: str | None) -> Team | None:
        """Join the team with this code; None leaves the current team."""
        team = self.team_by_code(code) if code else None
        with self._db.begin() as db:
            learner = self._live(db, learner_id)
            learner.team_id = team.id if team else None
            learner.updated_at = _now()
        return team

    def team_members(self, team_id: str) -> list[LearnerData]:
        cutoff = _now() - timedelta(days=self.retention_days)
        with self._db() as db:
            ids = list(db.scalars(select(Learner.id).where(Learner.team_id == team_id, Learner.updated_at >= cutoff)))
        out = []
        for lid in ids:
            try:
                out.append(self.data(lid))
            except LearnerNotFound:  # deleted meanwhile
                continue
        return out


