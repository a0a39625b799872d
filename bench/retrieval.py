"""Query latency of hybrid retrieval at several index sizes.

``build``: writes synthetic passages into a fresh data dir through the real PassageIndex.upsert (with
composed vectors, see bench/synth.py) and builds the lexical index with the real Retriever code.
``query`` (run in a fresh process per size): opens the index with the configured embedder (the app's
settings; E5 by default) and times ChatService.search(question, role, mode="hybrid") for real German
questions, each embedded at query time with ``embed_query`` (included in every figure); a second,
profiled pass splits the time by stage.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import index_size, proc_status, questions, summary_ms, write_json
from .synth import LookupEmbedder, Pool, compose, passages


def build_scale(pool: Pool, real_embedder, n: int, data_dir: Path, batch: int = 5000) -> dict[str, Any]:
    from assistant.search.index import PassageIndex
    from assistant.search.retrieval import Retriever
    from assistant.settings import Settings

    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    table: dict[str, np.ndarray] = {}
    items = []
    for p in passages(pool, n, seed=11):
        table[p.index_text] = compose(pool, p)
        items.append(p)
    compose_s = time.perf_counter() - t0
    index = PassageIndex(LookupEmbedder(real_embedder, table), settings.collection, str(settings.chroma_path),
                         rebuild=True)
    t1 = time.perf_counter()
    for start in range(0, len(items), batch):
        part = items[start:start + batch]
        index.upsert([p.id for p in part], [p.text for p in part], [p.index_text for p in part],
                     [p.metadata for p in part])
    chroma_s = time.perf_counter() - t1
    count = index.count()
    t2 = time.perf_counter()
    Retriever(index, settings.lexical_path / settings.collection).rebuild_lexical()
    lexical_s = time.perf_counter() - t2
    return {"n": count, "compose_s": round(compose_s, 2), "chroma_write_s": round(chroma_s, 2),
            "chroma_write_per_s": round(count / chroma_s, 1), "lexical_build_s": round(lexical_s, 2),
            "size": index_size(data_dir, count), "avg_passage_chars": round(float(np.mean([len(p.text) for p in items])), 1)}


def fidelity(pool: Pool, real_embedder, sample: int = 48) -> dict[str, Any]:
    """Cosine between composed and really embedded passage vectors, and how well pairwise similarities agree."""
    ps = list(passages(pool, sample, seed=99))
    comp = np.vstack([compose(pool, p) for p in ps])
    t = time.perf_counter()
    real = real_embedder.embed_documents([p.index_text for p in ps])
    secs = time.perf_counter() - t
    cos = (comp * real).sum(axis=1)
    iu = np.triu_indices(len(ps), 1)
    corr = float(np.corrcoef((real @ real.T)[iu], (comp @ comp.T)[iu])[0, 1])
    return {"sample": len(ps), "cos_mean": round(float(cos.mean()), 3), "cos_min": round(float(cos.min()), 3),
            "pairwise_similarity_corr": round(corr, 3), "real_embed_passages_per_s": round(len(ps) / secs, 1)}


STAGES = {
    "embed query": ("assistant/search/embeddings.py", "embed_query"),
    "BM25 search": ("assistant/search/lexical.py", "search"),
    "lexical freshness check": ("assistant/search/retrieval.py", "lexical"),
    "dense HNSW query (Chroma)": ("assistant/search/index.py", "dense"),
    "fetch passages (Chroma get)": ("assistant/search/index.py", "get"),
    "count() calls (Chroma)": ("assistant/search/index.py", "count"),
}


def _profile(svc, qs: list[tuple[str, Any]]) -> dict[str, Any]:
    prof = cProfile.Profile()
    prof.enable()
    for q, role in qs:
        svc.search(q, role, mode="hybrid")
    prof.disable()
    st = pstats.Stats(prof)
    total = None
    out: dict[str, float] = {}
    top: list[tuple[float, str]] = []
    for (file, _line, func), (_cc, _nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if func == "search" and file.endswith("assistant/search/retrieval.py"):
            total = ct
        for name, (suffix, fname) in STAGES.items():
            if func == fname and file.endswith(suffix):
                out[name] = out.get(name, 0.0) + ct
        top.append((tt, f"{Path(file).name}:{func}"))
    top.sort(reverse=True)
    n = len(qs)
    return {"queries": n, "total_ms_per_query": round((total or 0) / n * 1000, 2),
            "stages_ms_per_query": {k: round(v / n * 1000, 2) for k, v in out.items()},
            "top_self_time_ms_per_query": [(name, round(t / n * 1000, 2)) for t, name in top[:12]],
            "note": "cProfile adds overhead; use the shares, not the absolute values"}


def _stages(svc, qs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Each step of a hybrid search timed on its own (same calls Retriever.search makes), no profiler."""
    idx = svc.index
    lex = svc.retriever.lexical()
    times: dict[str, list[float]] = {k: [] for k in ("embed_query", "query_plan", "bm25_search", "chroma_count",
                                                     "chroma_query_50", "chroma_get_hits", "fingerprint")}
    for q, _role in qs:
        t = time.perf_counter()
        vec = idx.embedder.embed_query(q)
        times["embed_query"].append(time.perf_counter() - t)
        t = time.perf_counter()
        plan = svc.retriever.plan(q)  # typo correction against the index vocabulary + synonyms
        times["query_plan"].append(time.perf_counter() - t)
        t = time.perf_counter()
        lx = lex.search(plan.lexical, 50)
        times["bm25_search"].append(time.perf_counter() - t)
        t = time.perf_counter()
        idx.count()
        times["chroma_count"].append(time.perf_counter() - t)
        t = time.perf_counter()
        res = idx.passages.query(query_embeddings=[vec], n_results=50, include=["distances"])
        times["chroma_query_50"].append(time.perf_counter() - t)
        ids = list(dict.fromkeys(list(lx) + res["ids"][0]))
        t = time.perf_counter()
        idx.get(ids)
        times["chroma_get_hits"].append(time.perf_counter() - t)
        t = time.perf_counter()
        idx.fingerprint()
        times["fingerprint"].append(time.perf_counter() - t)
    return {k: [round(x * 1000, 3) for x in v] for k, v in times.items()}  # raw ms, merged over rounds


def run_queries(data_dir: Path, n_queries: int, warmup: int = 10, profile_n: int = 60, seed: int = 5) -> dict[str, Any]:
    """One round: raw latencies in ms (bench.scale merges rounds); profile_n=0 skips the cProfile pass."""
    from assistant.roles import parse_role
    from assistant.service import ChatService
    from assistant.settings import Settings

    from .common import fresh_questions

    t0 = time.perf_counter()
    svc = ChatService.build(Settings(data_dir=data_dir))
    build_s = time.perf_counter() - t0
    uncached = fresh_questions(svc.index.embedder)  # every timed question is encoded, never served from a cache
    t1 = time.perf_counter()
    svc.retriever.lexical()  # loads the saved BM25 index (what the first question of a fresh server pays)
    lexical_load_s = time.perf_counter() - t1
    rng = random.Random(seed)
    qs = [(q, parse_role(r)) for q, r in questions()]
    seq = [qs[i % len(qs)] for i in range(n_queries)]
    rng.shuffle(seq)
    first = time.perf_counter()
    svc.search(*seq[0], mode="hybrid")
    first_s = time.perf_counter() - first
    for q, role in qs[:warmup]:
        svc.search(q, role, mode="hybrid")
    lat: list[float] = []
    started = time.perf_counter()
    cpu0 = time.process_time()
    for q, role in seq:
        t = time.perf_counter()
        hits = svc.search(q, role, mode="hybrid")
        lat.append(time.perf_counter() - t)
        assert hits, q
    wall = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu0) / len(seq) * 1000
    modes: dict[str, Any] = {}
    for mode in ("lexical", "dense"):
        ml = []
        for q, role in seq[: max(20, n_queries // 5)]:
            t = time.perf_counter()
            svc.search(q, role, mode=mode)
            ml.append(round((time.perf_counter() - t) * 1000, 3))
        modes[mode] = ml
    stages = _stages(svc, seq[: max(20, n_queries // 5)])
    prof = _profile(svc, seq[:profile_n]) if profile_n else None
    emb = svc.index.embedder
    return {"n": svc.index.count(), "embedder": emb.name, "dim": emb.dim, "question_cache_bypassed": uncached,
            "embedder_threads": getattr(emb, "threads", None), "open_s": round(build_s, 2), "lexical_load_s": round(lexical_load_s, 2),
            "first_query_ms": round(first_s * 1000, 1), "hybrid_ms": [round(x * 1000, 3) for x in lat],
            "wall_s": wall, "cpu_ms_per_query": round(cpu_ms, 1),
            "other_modes_ms": modes, "stages_ms": stages, "profile": prof,
            "query_process_rss_mb": round(proc_status(__import__("os").getpid()).get("VmHWM", 0) / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["query"])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--profile", type=int, default=60, help="queries in the cProfile pass (0: none)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    write_json(a.out, run_queries(a.data_dir, a.queries, profile_n=a.profile, seed=a.seed))


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Summaries over all rounds of one index size."""
    lat = [x / 1000 for r in rounds for x in r["hybrid_ms"]]
    wall = sum(r["wall_s"] for r in rounds)
    modes = {m: summary_ms([x / 1000 for r in rounds for x in r["other_modes_ms"][m]]) for m in rounds[0]["other_modes_ms"]}
    stages = {k: summary_ms([x / 1000 for r in rounds for x in r["stages_ms"][k]]) for k in rounds[0]["stages_ms"]}
    per_round = [summary_ms([x / 1000 for x in r["hybrid_ms"]]) for r in rounds]
    return {"n": rounds[0]["n"], "embedder": rounds[0].get("embedder"),
            "question_cache_bypassed": rounds[0].get("question_cache_bypassed"), "rounds": len(rounds), "hybrid": summary_ms(lat),
            "hybrid_p95_per_round": [r["p95"] for r in per_round],
            "queries_per_s": round(len(lat) / wall, 1),
            "cpu_ms_per_query": round(sum(r["cpu_ms_per_query"] * len(r["hybrid_ms"]) for r in rounds) / len(lat), 1),
            "open_s": round(sum(r["open_s"] for r in rounds) / len(rounds), 2),
            "lexical_load_s": round(sum(r["lexical_load_s"] for r in rounds) / len(rounds), 2),
            "first_query_ms": round(sum(r["first_query_ms"] for r in rounds) / len(rounds), 1),
            "other_modes": modes, "stages": stages,
            "profile": next((r["profile"] for r in rounds if r.get("profile")), None),
            "query_process_rss_mb": max(r["query_process_rss_mb"] for r in rounds)}


if __name__ == "__main__":
    main()
