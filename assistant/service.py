"""The one service layer: API, CLI and UIs all call ChatService; none builds its own pipeline."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ingestion.limits import IngestLimits
from ingestion.pipeline import FileResult, IngestReport, ingest

from .answers.answering import Event, ExtractiveAnswerer, focus_words
from .search.embeddings import Embedder, create_embedder
from .answers.followup import condense_heuristic, role_in_question
from .guards import log_failure
from .search.index import PassageIndex
from .normen import NormRegister, stale_units, stand_notice
from .answers.prompts import load_extractive, load_prompts
from .search.retrieval import Hit, Mode, Retriever
from .roles import Role
from .store.sessions import SessionNotFound, SessionStore, Turn
from .settings import Settings

log = logging.getLogger("lernbegleiter")

MAX_QUESTION_CHARS = 2000
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL rejects it), lone surrogates (not UTF-8)
SESSION_GONE = ("Diese Unterhaltung gibt es nicht (mehr) – vielleicht wurde sie gelöscht oder ist abgelaufen. "
                "Bitte beginnen Sie eine neue.")


class ChatService:
    def __init__(self, settings: Settings, index: PassageIndex, retriever: Retriever,
                 answerer: ExtractiveAnswerer, store: SessionStore | None = None, llm: Any = None) -> None:
        self.settings = settings
        self.index = index
        self.retriever = retriever
        self.extractive = answerer
        self.store = store
        self.llm = llm  # assistant.answers.llm.LLMAnswerer when LB_LLM_BASE_URL is set
        self.answerer = llm or answerer
        self.norms = _load_norms()  # corpus/_normen.yaml: which norms changed when (Stand notice)

    @classmethod
    def build(cls, settings: Settings, rebuild: bool = False, embedder: Embedder | None = None,
              sessions: bool = True) -> ChatService:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or create_embedder(settings.embedder, settings.embedder_threads,
                                               settings.embedder_concurrency)
        index = PassageIndex(embedder, settings.collection, str(settings.chroma_path), settings.chroma_url,
                             rebuild=rebuild)
        retriever = Retriever(index, settings.lexical_path / settings.collection)
        answerer = ExtractiveAnswerer(embedder, load_extractive(), index, max_sources=settings.answer_sources)
        store = SessionStore(settings.database_url or f"sqlite:///{settings.data_dir.resolve() / 'sessions.db'}",
                             settings.retention_days) if sessions else None
        prompts = load_prompts()  # validated at every start-up, also when no LLM is configured
        llm = None
        if settings.llm_base_url:
            from .answers.llm import build_answerer  # langchain-openai is the optional extra `llm`

            llm = build_answerer(settings, answerer, prompts)  # loads and validates prompts/ (start-up stops on error)
        return cls(settings, index, retriever, answerer, store, llm)

    # --- ingestion --------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path], on_file: Callable[[FileResult], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        report = ingest(paths, self.index, self.settings.chunk_size, self.settings.chunk_overlap,
                        on_file=on_file, progress=progress, exclude=[self.settings.data_dir],
                        limits=IngestLimits.from_settings(self.settings))
        # keep the lexical index in step with every add and delete (also after a repaired run)
        self.retriever.rebuild_lexical()
        return report

    def warm(self, stop: Any = None) -> int:
        """Fill the embedder's cache with the sentences answers are built from (see ExtractiveAnswerer.warm);
        skipped for indexes larger than LB_WARM_MAX_PASSAGES. Returns the number of sentences embedded."""
        if not self.settings.warm_cache or self.index.count() > self.settings.warm_max_passages:
            self.warm_state = "off"
            return 0
        self.warm_state = "running"
        started = time.perf_counter()
        n = self.extractive.warm(self.index.all_passages(), stop=stop)
        log.info("answer sentences embedded ahead: %d in %.1f s", n, time.perf_counter() - started)
        self.warm_state = "done"
        return n

    # --- questions --------------------------------------------------------------------------

    def search(self, query: str, role: Role | None = None, k: int | None = None,
               filters: dict[str, Any] | None = None, mode: Mode = "hybrid") -> list[Hit]:
        return self.retriever.search(query, role, k or self.settings.top_k, filters, mode)

    def open_session(self, session_id: str | None, role: Role | None) -> str | None:
        """The id of the session to use: the given one (SessionNotFound if unknown or expired) or a new one."""
        if self.store is None:
            return None
        if session_id:
            self.store.get(session_id)
            return session_id
        return self.store.create(role.value if role else None).id

    def standalone(self, question: str, history: list[Turn]) -> str:
        """The follow-up rewritten into a standalone question (LLM if configured, else the heuristic)."""
        if not history:
            return question
        if self.llm is not None:
            rewritten = self.llm.condense([(h.standalone_question, h.answer) for h in history], question)
            if rewritten:
                return rewritten
        return condense_heuristic(question, history)

    def chat(self, question: str, role: Role | None = None, filters: dict[str, Any] | None = None,
             session_id: str | None = None) -> Iterator[Event]:
        """Events: meta, delta..., sources, followups, done (notice/reset from an LLM fallback);
        or an error event with a German message."""
        started = time.perf_counter()
        if not question.strip() or len(question) > MAX_QUESTION_CHARS:
            yield {"event": "error", "data": {"message": f"Bitte eine Frage mit 1 bis {MAX_QUESTION_CHARS} Zeichen stellen."}}
            return
        if BAD_CHARS.search(question) or (session_id and BAD_CHARS.search(session_id)):
            yield {"event": "error", "data": {"message": "Die Frage enthält unzulässige Zeichen."}}
            return
        question = " ".join(question.split())
        try:
            sid = self.open_session(session_id, role)
        except SessionNotFound:
            yield {"event": "error", "data": {"message": SESSION_GONE}}
            return
        answer: list[str] = []
        record: dict[str, Any] = {}
        completed = False
        try:
            history = self.store.history(sid, self.settings.history_turns) if self.store and sid else []
            turn_role = role_in_question(question) or role
            if turn_role is None and self.store and sid:
                stored = self.store.get(sid).role
                turn_role = Role(stored) if stored else None
            standalone = self.standalone(question, history)
            store_ms = (time.perf_counter() - started) * 1000
            if self.store and sid:
                t = time.perf_counter()
                self.store.add_message(sid, "user", question, standalone_question=standalone,
                                       role=turn_role.value if turn_role else None)
                if role is not None:  # a role named only in the question counts for this turn alone
                    self.store.touch(sid, role.value)
                store_ms += (time.perf_counter() - t) * 1000
            message_id = uuid.uuid4().hex
            t = time.perf_counter()
            hits = self.search(standalone, turn_role, self.settings.top_k, filters)
            plan = self.retriever.plan(standalone)
            meta = {"session_id": sid, "message_id": message_id, "standalone_question": standalone,
                    "corrections": plan.corrections, "lexical_query": plan.lexical,
                    "retrieval_ms": round((time.perf_counter() - t) * 1000, 1), "store_ms": round(store_ms, 1)}
            kwargs: dict[str, Any] = {"idf": self.retriever.lexical().idf,
                                      "history": [(h.standalone_question, h.answer) for h in history]}
            if history and self.llm is None:  # the follow-up's own topic: said plainly when the course lacks it
                kwargs["focus"] = focus_words(question, standalone)
            for ev in self.answerer.stream(standalone, turn_role, hits, meta, **kwargs):
                kind = ev["event"]
                if kind == "meta":
                    ev = {"event": "meta", "data": {**ev["data"], "question": question}}
                    record = {"answerer": ev["data"].get("answerer"), "prompt": ev["data"].get("prompt")}
                elif kind == "delta":
                    answer.append(ev["data"]["text"])
                elif kind == "reset":
                    answer.clear()
                elif kind == "notice" and isinstance(ev["data"].get("fallback"), dict):
                    fb = ev["data"]["fallback"]  # the extractive answer replaced the LLM's: record what answered
                    record.update({k: fb[k] for k in ("answerer", "prompt") if fb.get(k)})
                    ev = {"event": "notice", "data": {"message": ev["data"]["message"]}}
                elif kind == "meta_update":
                    record.update(ev["data"])
                    continue
                elif kind == "sources":
                    record["sources"] = ev["data"]
                    notice = stand_notice(ev["data"] or [], self.norms)
                    if notice:  # a cited unit is older than a change of a norm it cites: one German line
                        yield ev
                        ev = {"event": "notice", "data": {"message": notice}}
                elif kind == "done":
                    record["answerable"] = ev["data"].get("answerable")
                    ev = {"event": "done", "data": {**ev["data"], "message_id": message_id}}
                    completed = True
                    if self.store and sid:  # stored before `done` goes out, so feedback can follow at once
                        self._store_answer(sid, message_id, "".join(answer), turn_role, standalone, record, True)
                        record["stored"] = True
                yield ev
        except Exception as exc:  # the user sees a German message; the log gets the type, never the message
            log_failure(log, "chat failed", exc)
            yield {"event": "error", "data": {"message": "Bei der Beantwortung ist ein interner Fehler aufgetreten. "
                                                         "Bitte versuchen Sie es erneut."}}
        finally:  # a stream cut by the client still leaves its partial answer in the session
            if self.store and sid and answer and not record.get("stored") and not completed:
                try:
                    self._store_answer(sid, message_id, "".join(answer), turn_role, standalone, record, False)
                except Exception as exc:
                    log_failure(log, "storing a partial answer failed", exc)

    def _store_answer(self, sid: str, message_id: str, text: str, role: Role | None, standalone: str,
                      record: dict[str, Any], complete: bool) -> None:
        sources = [{k: s.get(k) for k in ("n", "id", "title", "heading_path", "page", "source", "label", "doc_id",
                                          "stand")}
                   for s in record.get("sources") or []]
        self.store.add_message(sid, "assistant", text, message_id=message_id, standalone_question=standalone,
                               role=role.value if role else None, answerer=record.get("answerer"),
                               prompt=record.get("prompt"), answerable=record.get("answerable"),
                               complete=complete, sources=sources)

    def stale_units(self, months: int | None = None) -> list[tuple[str, Any]]:
        """Documents in the index whose `stand` is older than LB_STAND_WARN_MONTHS: (name, date)."""
        months = self.settings.stand_warn_months if months is None else months
        metas = (m for _ids, ms, _docs in self.index._scan(include=["metadatas"]) for m in ms if m)
        return stale_units(metas, months)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "passages": self.index.count(),
            "embedder": {"name": self.index.embedder.name, "dim": self.index.embedder.dim},
            "index": {"backend": "chroma-server" if self.settings.chroma_url else "chroma-embedded",
                      "collection": self.settings.collection},
            "answerer": self.answerer.name,
            "warm_cache": getattr(self, "warm_state", "off"),
            "llm": self.llm.health() if self.llm is not None else {"configured": False, "state": "off"},
            "sessions": {"backend": self.store.backend if self.store else None,
                         "retention_days": self.settings.retention_days},
        }

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _load_norms() -> NormRegister | None:
    """The course's norm register; a broken or missing one only turns the Stand notice off."""
    try:
        return NormRegister.default()
    except Exception as exc:
        log_failure(log, "norm register not loaded", exc)
        return None
