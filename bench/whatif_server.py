"""What-if server for experiments: `python -m assistant serve` with optional patches, so a proposed fix can be
measured with the same load before anyone changes assistant/. Nothing here is used by the app or by `make bench`.

    python -m bench.chat --data-dir DIR --out X.json --server-script bench/whatif_server.py \
        --server-env LB_EMBEDDER_THREADS=1 --server-env WHATIF_SEM=2 --server-env WHATIF_THREADS=100

WHATIF_SEM=N      embed calls with more than one text (answer composition) wait for one of N slots; the
                  one-text question embedding of retrieval never waits.
WHATIF_THREADS=N  anyio's thread limiter (sync endpoints and the SSE generator steps; default 40) gets N tokens.
WHATIF_CACHE=1    text -> vector cache in front of USEEmbedder.embed (questions from the eval file never cached).
LB_EMBEDDER_THREADS is an existing setting (no patch).
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant import api, embeddings  # noqa: E402

_orig_embed = embeddings.USEEmbedder.embed
_sem = threading.BoundedSemaphore(int(os.environ["WHATIF_SEM"])) if os.environ.get("WHATIF_SEM") else None
_cache: dict[str, np.ndarray] | None = {} if os.environ.get("WHATIF_CACHE") else None
_never_cached: set[str] = set()
if _cache is not None:
    import yaml

    qs = yaml.safe_load((Path(__file__).resolve().parent.parent / "evals" / "corpus_questions.yaml")
                        .read_text(encoding="utf-8"))["questions"]
    _never_cached = {" ".join(q["question"].split()) for q in qs} | {q["question"] for q in qs}


def _embed_cached(self, texts: list[str]) -> np.ndarray:
    if _cache is None or not texts:
        return _orig_embed(self, texts)
    todo = [t for t in dict.fromkeys(texts) if t in _never_cached or t not in _cache]
    fresh = dict(zip(todo, _orig_embed(self, todo))) if todo else {}
    for t, v in fresh.items():
        if t not in _never_cached:
            _cache[t] = v
    return np.vstack([fresh[t] if t in fresh else _cache[t] for t in texts])


def _embed(self, texts):
    texts = list(texts)
    if _sem is not None and len(texts) > 1:
        with _sem:
            return _embed_cached(self, texts)
    return _embed_cached(self, texts)


embeddings.USEEmbedder.embed = _embed

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
      f"cache={_cache is not None} embedder_threads={os.environ.get('LB_EMBEDDER_THREADS', 'default')}", flush=True)

if __name__ == "__main__":
    from assistant.cli import main

    sys.argv = ["lernbegleiter", *sys.argv[1:]]
    main()
