"""The one service layer: API, CLI and UIs all call ChatService; none builds its own pipeline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ingestion.pipeline import FileResult, IngestReport, ingest

from .answering import Event, ExtractiveAnswerer
from .embeddings import Embedder, create_embedder
from .index import PassageIndex
from .prompts import load_extractive
from .retrieval import Hit, Mode, Retriever
from .roles import Role
from .settings import Settings

log = logging.getLogger("lernbegleiter")

MAX_QUESTION_CHARS = 2000


class ChatService:
    def __init__(self, settings: Settings, index: PassageIndex, retriever: Retriever,
                 answerer: ExtractiveAnswerer) -> None:
        self.settings = settings
        self.index = index
        self.retriever = retriever
        self.answerer = answerer

    @classmethod
    def build(cls, settings: Settings, rebuild: bool = False, embedder: Embedder | None = None) -> ChatService:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or create_embedder(settings.embedder, settings.embedder_threads)
        index = PassageIndex(embedder, settings.collection, str(settings.chroma_path), settings.chroma_url,
                             rebuild=rebuild)
        retriever = Retriever(index, settings.lexical_path / settings.collection)
        answerer = ExtractiveAnswerer(embedder, load_extractive(), index, max_sources=settings.answer_sources)
        return cls(settings, index, retriever, answerer)

    # --- ingestion --------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path], on_file: Callable[[FileResult], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        report = ingest(paths, self.index, self.settings.chunk_size, self.settings.chunk_overlap,
                        on_file=on_file, progress=progress, exclude=[self.settings.data_dir])
        # keep the lexical index in step with every add and delete (also after a repaired run)
        self.retriever.rebuild_lexical()
        return report

    # --- questions --------------------------------------------------------------------------

    def search(self, query: str, role: Role | None = None, k: int | None = None,
               filters: dict[str, Any] | None = None, mode: Mode = "hybrid") -> list[Hit]:
        return self.retriever.search(query, role, k or self.settings.top_k, filters, mode)

    def chat(self, question: str, role: Role | None = None, filters: dict[str, Any] | None = None
             ) -> Iterator[Event]:
        """Events: meta, delta..., sources, followups, done; or an error event with a German message."""
        started = time.perf_counter()
        if not question.strip() or len(question) > MAX_QUESTION_CHARS:
            yield {"event": "error", "data": {"message": f"Bitte eine Frage mit 1 bis {MAX_QUESTION_CHARS} Zeichen stellen."}}
            return
        try:
            hits = self.search(question, role, self.settings.top_k, filters)
            meta = {"retrieval_ms": round((time.perf_counter() - started) * 1000, 1)}
            yield from self.answerer.stream(question, role, hits, meta, idf=self.retriever.lexical().idf)
        except Exception:  # the user sees a German message; the log gets the type, not the text
            log.exception("chat failed")
            yield {"event": "error", "data": {"message": "Bei der Beantwortung ist ein interner Fehler aufgetreten. "
                                                         "Bitte versuchen Sie es erneut."}}

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "passages": self.index.count(),
            "embedder": {"name": self.index.embedder.name, "dim": self.index.embedder.dim},
            "index": {"backend": "chroma-server" if self.settings.chroma_url else "chroma-embedded",
                      "collection": self.settings.collection},
            "answerer": self.answerer.name,
        }
