"""The passage index: one Chroma collection of passages with our own vectors.

Passages and vectors live only in Chroma (embedded files under the data directory,
or a Chroma server when ``LB_CHROMA_URL`` is set). We always hand Chroma our own
vectors; its default embedding function (which downloads a model) is never used.
The collection records which embedder built it and a revision that changes before
every write, so derived data (the lexical index) can tell when it is stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .embeddings import Embedder


class IndexError_(Exception):
    """Index problems with a German message for the user."""


class EmbedderMismatch(IndexError_):
    """The collection was built by another embedder; its vectors cannot be compared with ours."""

    def __init__(self, message: str, built_with: str = "", configured: str = "") -> None:
        super().__init__(message)
        self.built_with = built_with
        self.configured = configured


def stored_sources(name: str, path: str, chroma_url: str | None = None) -> list[str]:
    """The sources (file keys) a collection holds, read without an embedder (for a rebuild)."""
    client = _client(chroma_url, path)
    try:
        col = client.get_collection(name, embedding_function=None)
    except Exception:  # noqa: BLE001 - no collection yet
        return []
    sources: set[str] = set()
    offset = 0
    while True:
        got = col.get(include=["metadatas"], limit=2000, offset=offset)
        if not got["ids"]:
            break
        sources.update(str(m.get("source")) for m in got["metadatas"] or [] if m and m.get("source"))
        offset += len(got["ids"])
    return sorted(sources)


@dataclass
class StoredPassage:
    id: str
    text: str
    metadata: dict[str, Any]


def _client(chroma_url: str | None, path: str):
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        u = urlparse(chroma_url)
        return chromadb.HttpClient(
            host=u.hostname or "127.0.0.1", port=u.port or 8000, ssl=u.scheme == "https", settings=settings
        )
    return chromadb.PersistentClient(path=path, settings=settings)


class PassageIndex:
    def __init__(self, embedder: Embedder, name: str, path: str, chroma_url: str | None = None,
                 rebuild: bool = False) -> None:
        self.embedder = embedder
        self.name = name
        self._client = _client(chroma_url, path)
        self.location = chroma_url or path
        if rebuild:
            try:
                self._client.delete_collection(name)
            except Exception:  # noqa: BLE001 - an absent collection is fine
                pass
        cfg = {"hnsw": {"space": "cosine"}}
        meta = {"lb_embedder": embedder.name, "lb_dim": embedder.dim, "lb_revision": uuid.uuid4().hex}
        self.passages = self._client.get_or_create_collection(
            name, configuration=cfg, metadata=meta, embedding_function=None)
        built_with = (self.passages.metadata or {}).get("lb_embedder")
        if built_with != embedder.name:
            raise EmbedderMismatch(
                f"Der Index unter {self.location} wurde mit dem Embedder „{built_with}“ gebaut, "
                f"konfiguriert ist „{embedder.name}“. Bitte einmal „lernbegleiter ingest corpus/“ "
                f"(oder „make run“) ausführen: Der Index wird dann automatisch neu aufgebaut.",
                built_with=str(built_with), configured=embedder.name,
            )

    # --- state ------------------------------------------------------------------------------

    def count(self) -> int:
        return self.passages.count()

    def revision(self) -> str:
        col = self._client.get_collection(self.name, embedding_function=None)
        return str((col.metadata or {}).get("lb_revision", ""))

    def fingerprint(self) -> str:
        return f"{self.count()}:{self.revision()}"

    def _bump_revision(self) -> None:
        meta = {k: v for k, v in (self.passages.metadata or {}).items() if not k.startswith("hnsw:")}
        meta["lb_revision"] = uuid.uuid4().hex
        self.passages.modify(metadata=meta)

    def file_states(self) -> dict[str, dict[str, Any]]:
        """Per source: the file hashes found, how many chunks it should have, how many it has."""
        states: dict[str, dict[str, Any]] = {}
        for _ids, metas, _docs in self._scan(include=["metadatas"]):
            for m in metas:
                st = states.setdefault(m["source"], {"hashes": set(), "expected": set(), "count": 0})
                st["hashes"].add(m.get("file_hash"))
                st["expected"].add(m.get("n_chunks"))
                st["count"] += 1
        return states

    def _scan(self, include: list[str], batch: int = 2000) -> Iterable[tuple[list, list, list]]:
        offset = 0
        while True:
            got = self.passages.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            yield ids, got.get("metadatas") or [None] * len(ids), got.get("documents") or [None] * len(ids)
            offset += len(ids)

    def all_passages(self) -> list[StoredPassage]:
        out: list[StoredPassage] = []
        for ids, metas, docs in self._scan(include=["metadatas", "documents"]):
            out.extend(StoredPassage(i, d or "", m or {}) for i, m, d in zip(ids, metas, docs))
        return out

    # --- writes -----------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], texts: Sequence[str], index_texts: Sequence[str],
               metadatas: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        self._bump_revision()
        vecs = self.embedder.embed_documents(list(index_texts))
        for start in range(0, len(ids), 2000):
            sl = slice(start, start + 2000)
            self.passages.upsert(ids=list(ids[sl]), documents=list(texts[sl]), embeddings=vecs[sl],
                                 metadatas=list(metadatas[sl]))

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        self._bump_revision()
        for start in range(0, len(ids), 2000):
            self.passages.delete(ids=list(ids[start:start + 2000]))

    def ids_of_source(self, source: str) -> list[str]:
        return self.passages.get(where={"source": source}, include=[])["ids"]

    def delete_source(self, source: str) -> int:
        ids = self.ids_of_source(source)
        self.delete_ids(ids)
        return len(ids)

    # --- reads ------------------------------------------------------------------------------

    def get(self, ids: Sequence[str]) -> list[StoredPassage]:
        if not ids:
            return []
        got = self.passages.get(ids=list(ids), include=["metadatas", "documents"])
        by_id = {i: StoredPassage(i, d or "", m or {}) for i, m, d in
                 zip(got["ids"], got["metadatas"], got["documents"])}
        return [by_id[i] for i in ids if i in by_id]

    def where(self, where: dict[str, Any], limit: int = 50) -> list[StoredPassage]:
        got = self.passages.get(where=where, limit=limit, include=["metadatas", "documents"])
        return [StoredPassage(i, d or "", m or {}) for i, m, d in
                zip(got["ids"], got["metadatas"], got["documents"])]

    def dense(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> dict[str, float]:
        """Cosine similarity of the ``n`` nearest passages."""
        total = self.count()
        if total == 0:
            return {}
        res = self.passages.query(query_embeddings=[vector], n_results=min(n, total), where=where,
                                  include=["distances"])
        return {pid: 1.0 - float(dist) for pid, dist in zip(res["ids"][0], res["distances"][0])}
