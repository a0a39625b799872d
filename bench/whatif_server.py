"""What-if server for experiments: `python -m assistant serve` with optional patches, so a proposed fix can be
measured with the same load before anyone changes assistant/. Nothing here is used by the app; `make bench`
uses it for its chat step (WHATIF_FRESH_QUESTIONS=1 only) and the thread study (bench/threads.py, + WHATIF_EMBED_LOG).

    python -m bench.chat --data-dir DIR --out X.json --server-script bench/whatif_server.py \
        --server-env LB_EMBEDDER_THREADS=1 --server-env OMP_WAIT_POLICY=ACTIVE --server-env WHATIF_EMBED_LOG=/tmp/e.log

The patches wrap the embedder the app builds from its settings (LB_EMBEDDER; E5 by default), whatever its class:

WHATIF_FRESH_QUESTIONS=1  every question is encoded for real: the embedder's text -> vector cache loses the
                    question's entry before each `embed_query` (bench.common.fresh_questions; passage and sentence
                    vectors stay cached). `make bench` runs its chat step with this server and only this patch.
WHATIF_EMBED_LOG=P  append one line per `embed_query` (retrieval: the question) and `embed` (symmetric: answer
                    composition) call to file P: kind, unix time at the end, milliseconds, number of texts.
WHATIF_SEM=N        `embed` calls with more than one text (answer composition) wait for one of N slots; the
                    question embedding of retrieval (`embed_query`) never waits.
WHATIF_THREADS=N    anyio's thread limiter (sync endpoints and the SSE generator steps; default 40) gets N tokens.
WHATIF_CACHE=1      text -> vector cache in front of `embed` (questions from the eval file never cached).
LB_EMBEDDER_THREADS and OMP_WAIT_POLICY are existing settings (no patch); E5Embedder sets OMP_WAIT_POLICY=PASSIVE
unless the environment names a policy.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant import service  # noqa: E402
from assistant.search import embeddings  # noqa: E402
from assistant.web import api  # noqa: E402
from bench.common import fresh_questions  # noqa: E402

_sem = threading.BoundedSemaphore(int(os.environ["WHATIF_SEM"])) if os.environ.get("WHATIF_SEM") else None
_cache: dict[str, np.ndarray] | None = {} if os.environ.get("WHATIF_CACHE") else None
_never_cached: set[str] = set()
if _cache is not None:
    import yaml

    qs = yaml.safe_load((Path(__file__).resolve().parent.parent / "evals" / "corpus_questions.yaml")
                        .read_text(encoding="utf-8"))["questions"]
    _never_cached = {" ".join(q["question"].split()) for q in qs} | {q["question"] for q in qs}

_log_lock = threading.Lock()
_log = open(os.environ["WHATIF_EMBED_LOG"], "a", buffering=1) if os.environ.get("WHATIF_EMBED_LOG") else None  # noqa: SIM115


def _record(kind: str, started: float, n: int) -> None:
    if _log is not None:
        ms = (time.perf_counter() - started) * 1000
        with _log_lock:
            _log.write(f"{kind} {time.time():.3f} {ms:.3f} {n}\n")


def _patch(emb):
    """Wraps the instance's `embed` and `embed_query` (instance attributes; the class stays untouched)."""
    if os.environ.get("WHATIF_FRESH_QUESTIONS"):
        print(f"whatif: question cache bypassed = {fresh_questions(emb)}", flush=True)
    orig_embed, orig_query = emb.embed, emb.embed_query

    def embed_cached(texts: list[str]) -> np.ndarray:
        if _cache is None or not texts:
            return orig_embed(texts)
        todo = [t for t in dict.fromkeys(texts) if t in _never_cached or t not in _cache]
        fresh = dict(zip(todo, orig_embed(todo))) if todo else {}
        for t, v in fresh.items():
            if t not in _never_cached:
                _cache[t] = v
        return np.vstack([fresh[t] if t in fresh else _cache[t] for t in texts])

    def embed(texts):
        texts = list(texts)
        if _sem is not None and len(texts) > 1:
            with _sem:
                t = time.perf_counter()
                out = embed_cached(texts)
        else:
            t = time.perf_counter()
            out = embed_cached(texts)
        _record("embed", t, len(texts))
        return out

    def embed_query(text):
        t = time.perf_counter()
        out = orig_query(text)
        _record("query", t, 1)
        return out

    emb.embed, emb.embed_query = embed, embed_query
    return emb


_orig_create = embeddings.create_embedder


def _create_embedder(*args, **kwargs):
    return _patch(_orig_create(*args, **kwargs))


embeddings.create_embedder = _create_embedder
service.create_embedder = _create_embedder  # service imported the name

if os.environ.get("WHATIF_THREADS"):
    _orig_create_app = api.create_app

    def _create_app(*args, **kwargs):
        app = _orig_create_app(*args, **kwargs)
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a):
            import anyio.to_thread

            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = int(os.environ["WHATIF_THREADS"])
            print(f"whatif: thread limiter tokens = {limiter.total_tokens}", flush=True)
            async with inner(a) as state:
                yield state

        app.router.lifespan_context = lifespan
        return app

    api.create_app = _create_app

print(f"whatif: sem={os.environ.get('WHATIF_SEM')} threads={os.environ.get('WHATIF_THREADS')} "
      f"cache={_cache is not None} embed_log={os.environ.get('WHATIF_EMBED_LOG')} "
      f"fresh_questions={bool(os.environ.get('WHATIF_FRESH_QUESTIONS'))} "
      f"embedder_threads={os.environ.get('LB_EMBEDDER_THREADS', 'default')} "
      f"omp_wait_policy={os.environ.get('OMP_WAIT_POLICY', 'default (PASSIVE via E5Embedder)')}", flush=True)

if __name__ == "__main__":
    from assistant.cli import main

    sys.argv = ["lernbegleiter", *sys.argv[1:]]
    main()
