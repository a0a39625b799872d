"""Small helpers shared by the benchmark parts: machine facts, percentiles, sizes, questions."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
RESULTS = ROOT / "evals" / "results"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false", "no")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    mem_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "cpu_affinity": affinity, "cpu_model": cpu_model,
            "mem_total_gb": mem_total, "loadavg_1_5_15": [round(x, 2) for x in load],
            "python": platform.python_version(), "platform": platform.platform()}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary_ms(values_s: list[float]) -> dict[str, Any]:
    """p50/p95/p99/mean/max in milliseconds of durations given in seconds."""
    ms = [v * 1000 for v in values_s]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50": round(pct(ms, 50), 2), "p95": round(pct(ms, 95), 2),
            "p99": round(pct(ms, 99), 2), "mean": round(float(np.mean(ms)), 2), "max": round(max(ms), 2)}


def dir_bytes(path: Path) -> int:
    total = 0
    if not path.exists():
        return 0
    for p in path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def index_size(data_dir: Path, n_chunks: int) -> dict[str, Any]:
    chroma = dir_bytes(data_dir / "chroma")
    lexical = dir_bytes(data_dir / "lexical")
    per_1k = (chroma + lexical) / max(n_chunks, 1) * 1000
    return {"chunks": n_chunks, "chroma_mb": round(chroma / 2**20, 2), "lexical_mb": round(lexical / 2**20, 2),
            "total_mb": round((chroma + lexical) / 2**20, 2), "mb_per_1k_chunks": round(per_1k / 2**20, 2)}


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) of a process in kB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def questions() -> list[tuple[str, str | None]]:
    """Real German questions with the asker's role (evals/corpus_questions.yaml)."""
    import yaml

    data = yaml.safe_load((ROOT / "evals" / "corpus_questions.yaml").read_text(encoding="utf-8"))
    return [(q["question"], q.get("role")) for q in data["questions"]]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


# never inherited: they would point the benchmark at real data, a shared Chroma, a database or an LLM
_NOT_INHERITED = ("LB_DATA_DIR", "LB_CHROMA_URL", "LB_COLLECTION", "LB_DATABASE_URL", "LB_LLM_")


def lb_overrides() -> dict[str, str]:
    """LB_ settings from the environment that the benchmark passes on (e.g. LB_EMBEDDER_THREADS=1)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("LB_") and not k.startswith(_NOT_INHERITED)}


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process: its own data dir; only harmless LB_ overrides are inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LB_")}
    env.update(lb_overrides())
    env.update(LB_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), **extra)
    return env


def settings_embedder():
    """The embedder the app would build from its settings (LB_EMBEDDER, LB_EMBEDDER_THREADS; default E5 with
    2 OpenMP threads) and its thread count."""
    from assistant.search.embeddings import create_embedder
    from assistant.settings import Settings

    s = Settings()
    return create_embedder(s.embedder, s.embedder_threads), s.embedder_threads


def embedder_facts(embedder, threads: int) -> dict[str, Any]:
    """Name, dimension, threads and the OpenMP environment the embedder runs with (set by E5Embedder)."""
    return {"name": embedder.name, "dim": embedder.dim, "threads": threads,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def fresh_questions(embedder) -> bool:
    """Every ``embed_query`` call encodes the question for real: the embedder's text -> vector cache (E5Embedder
    keeps one; a repeated text costs nothing) loses the question's entry just before the call. The benchmarks ask
    the same few hundred questions many times; real users rarely repeat one verbatim, and the targets include
    the query encoding. Vectors of passages and answer sentences stay cached as in the app. Patches the instance
    only; returns False (and changes nothing) for an embedder without such a cache."""
    cache, lock = getattr(embedder, "_cache", None), getattr(embedder, "_lock", None)
    if cache is None or not hasattr(cache, "pop"):
        return False
    try:
        from assistant.search.embeddings import _clean
    except ImportError:  # pragma: no cover - older app
        def _clean(t: str) -> str:
            return t
    orig = embedder.embed_query

    def embed_query(text: str):
        for key in ((True, _clean(text)), (True, text)):
            if lock is not None:
                with lock:
                    cache.pop(key, None)
            else:
                cache.pop(key, None)
        return orig(text)

    embedder.embed_query = embed_query
    return True
