"""`make bench` / `python -m bench.run`: all benchmarks, results in evals/results/bench.md and bench.json.

BENCH_QUICK=1   small sizes for development (a few minutes); results go to $TMPDIR/lb-bench-quick.md/.json,
                not evals/results, unless BENCH_OUT is set.
BENCH_OUT       output path without suffix (default evals/results/bench).
BENCH_ONLY      comma list of steps to run: ingest, chat, scale, multiproc (chat needs ingest's corpus index;
                multiproc = bench/multiproc.py, serve --workers 1 and 2 on Chroma server + PostgreSQL + Redis,
                50 streams 5 min and 100 streams 1 min each, its own report bench-multiproc.md); `threads`
                (the embedder thread study, bench/threads.py, ~3 min per setting) runs only when named here or
                with BENCH_THREADS=1; otherwise BENCH_THREADS_FROM=X.json (a separate `python -m bench.threads`
                run) is taken in, or else the study of the previous report at the same path is carried over
                (marked as such, with its own date and load).
LB_*            harmless LB_ settings are passed on (e.g. LB_EMBEDDER_THREADS=1) and named in the report;
                LB_DATA_DIR, LB_CHROMA_URL, LB_COLLECTION, LB_DATABASE_URL, LB_LLM_* never are.
BENCH_PYSPY=1   sample the server with py-spy during the load (pip install py-spy into the venv first).
BENCH_WORK      work dir (default: a new temp dir, removed at the end unless BENCH_KEEP=1).
BENCH_PDF_E2E_PAGES, BENCH_PAGES, BENCH_SIZES, BENCH_QUERIES, BENCH_ROUNDS, BENCH_CLIENTS, BENCH_SECONDS, BENCH_SINGLE,
BENCH_SYNTHETIC_TOPICS, BENCH_PER_TOPIC, BENCH_EMBED_PASSAGES: override sizes.
BENCH_THREAD_CONFIGS (e.g. 1:PASSIVE,2:PASSIVE,2:ACTIVE), BENCH_THREAD_REPEAT, BENCH_THREAD_SINGLE, BENCH_THREAD_SECONDS:
                the thread study (its clients: BENCH_CLIENTS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import QUICK, RESULTS, ROOT, child_env, lb_overrides, log, machine, write_json
from .report import render, verdicts

# e2e_pages: PDFs end to end embed every chunk for real (E5: ~10 passages/s on 2 cores, ~3.2 chunks a page), so the
# full run embeds 300 of the 2,000 parsed pages and extrapolates the rest (the report says so).
FULL = {"pages": 2000, "e2e_pages": 300, "embed_passages": 64, "sizes": "1000,10000,100000", "queries": 450, "rounds": 3,
        "synthetic_topics": 120, "per_topic": 20, "single": 50, "clients": 50, "seconds": 60,
        "thread_configs": "1:PASSIVE,2:PASSIVE,2:ACTIVE", "thread_repeat": 1, "thread_single": 30, "thread_seconds": 40}
SMALL = {"pages": 100, "e2e_pages": 50, "embed_passages": 16, "sizes": "1000,5000", "queries": 60, "rounds": 2,
         "synthetic_topics": 20, "per_topic": 15, "single": 10, "clients": 10, "seconds": 15,
         "thread_configs": "1:PASSIVE,2:PASSIVE", "thread_repeat": 1, "thread_single": 10, "thread_seconds": 15}


def _config() -> dict[str, Any]:
    cfg = dict(SMALL if QUICK else FULL)
    for key in cfg:
        env = os.environ.get(f"BENCH_{'PDF_E2E_PAGES' if key == 'e2e_pages' else key.upper()}")
        if env:
            cfg[key] = type(cfg[key])(env)
    return cfg


def _git() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _step(name: str, args: list[str], work: Path, out: Path, timeout: float) -> tuple[dict[str, Any] | None, str | None, float]:
    log(f"step {name}: {' '.join(args)}")
    load_before = _load()
    t = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", *args, "--out", str(out)], cwd=ROOT, env=child_env(work / "lb-data"),
                       check=True, timeout=timeout)
        data = json.loads(out.read_text(encoding="utf-8"))
        data["loadavg_before_after"] = [load_before, _load()]
        return data, None, time.perf_counter() - t
    except (subprocess.SubprocessError, OSError, ValueError) as err:
        log(f"step {name} failed: {err}")
        partial = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
        return partial, f"{type(err).__name__}: {err}", time.perf_counter() - t


def main() -> int:
    cfg = _config()
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "ingest,chat,scale,multiproc").split(",") if s.strip()}
    if os.environ.get("BENCH_THREADS", "") not in ("", "0", "false", "no"):
        only.add("threads")
    work = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="lb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out_base = Path(os.environ["BENCH_OUT"]) if os.environ.get("BENCH_OUT") else (
        Path(tempfile.gettempdir()) / "lb-bench-quick" if QUICK else RESULTS / "bench")
    started = time.perf_counter()
    res: dict[str, Any] = {"quick": QUICK, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
                           "git": _git(), "config": cfg, "lb_overrides": lb_overrides(), "work_dir": str(work), "errors": {}, "step_s": {}}
    log(f"{'QUICK' if QUICK else 'full'} run on {res['machine']['cpu_count']} cores, work dir {work}")
    corpus_data = work / "corpus-data"
    try:
        if "ingest" in only:
            r, err, secs = _step("ingest", ["bench.ingest", "--work", str(work / "ingest"), "--corpus-data", str(corpus_data),
                                            "--pages", str(cfg["pages"]), "--e2e-pages", str(cfg["e2e_pages"]),
                                            "--embed-passages", str(cfg["embed_passages"])],
                                 work, work / "ingest.json", 3600)
            res["ingest"], res["step_s"]["ingest"] = r, round(secs, 1)
            if err:
                res["errors"]["ingest"] = err
            shutil.rmtree(work / "ingest" / "pdfs", ignore_errors=True)
        if "chat" in only:
            if not (corpus_data / "chroma").exists():
                res["errors"]["chat"] = "no corpus index (run the ingest step first)"
            else:
                # the real app with one patch: questions are never served from the embedder's vector cache
                # (the load repeats a few hundred questions; see bench/whatif_server.py, WHATIF_FRESH_QUESTIONS)
                r, err, secs = _step("chat", ["bench.chat", "--data-dir", str(corpus_data), "--single", str(cfg["single"]),
                                              "--clients", str(cfg["clients"]), "--seconds", str(cfg["seconds"]),
                                              "--server-script", str(ROOT / "bench" / "whatif_server.py"),
                                              "--server-env", "WHATIF_FRESH_QUESTIONS=1"]
                                     + (["--pyspy"] if os.environ.get("BENCH_PYSPY") else []),
                                     work, work / "chat.json", 1800)
                res["chat"], res["step_s"]["chat"] = r, round(secs, 1)
                if err:
                    res["errors"]["chat"] = err
        if "scale" in only:
            r, err, secs = _step("scale", ["bench.scale", "--work", str(work / "scale"), "--sizes", cfg["sizes"],
                                           "--synthetic-topics", str(cfg["synthetic_topics"]),
                                           "--per-topic", str(cfg["per_topic"]), "--queries", str(cfg["queries"]),
                                           "--rounds", str(cfg["rounds"])],
                                 work, work / "scale.json", 5400)
            res["scale"], res["step_s"]["scale"] = r, round(secs, 1)
            if err:
                res["errors"]["scale"] = err
        if "threads" in only:
            if not (corpus_data / "chroma").exists():
                res["errors"]["threads"] = "no corpus index (run the ingest step first)"
            else:
                r, err, secs = _step("threads", ["bench.threads", "--data-dir", str(corpus_data),
                                                 "--configs", cfg["thread_configs"], "--repeat", str(cfg["thread_repeat"]),
                                                 "--single", str(cfg["thread_single"]), "--clients", str(cfg["clients"]),
                                                 "--seconds", str(cfg["thread_seconds"]), "--work", str(work / "threads")],
                                     work, work / "threads.json", 3600)
                if r:
                    r.pop("runs", None)  # raw per-call durations stay in the work dir
                res["threads"], res["step_s"]["threads"] = r, round(secs, 1)
                if err:
                    res["errors"]["threads"] = err
        if "multiproc" in only:
            # serve --workers 1 and 2 on a Chroma server, PostgreSQL and Redis (bench/multiproc.py, ~25 min);
            # its own report: evals/results/bench-multiproc.md (BENCH_MP_OUT)
            r, err, secs = _step("multiproc", ["bench.multiproc"], work, work / "multiproc.json", 5400)
            if r:
                res["multiproc"] = {"report": str(os.environ.get("BENCH_MP_OUT") or RESULTS / "bench-multiproc") + ".md",
                                    "summary": [{"workers": run["workers"], **{k: ph.get(k) for k in (
                                        "clients", "duration_s", "requests", "errors", "first_event_ms",
                                        "throughput_rps")}} for run in (r.get("runs") or []) for ph in run["phases"]]}
            res["step_s"]["multiproc"] = round(secs, 1)
            if err:
                res["errors"]["multiproc"] = err
        if "threads" not in only and os.environ.get("BENCH_THREADS_FROM"):
            # a study run on its own (python -m bench.threads --out X.json), taken into this report as it is
            study = json.loads(Path(os.environ["BENCH_THREADS_FROM"]).read_text(encoding="utf-8"))
            study.pop("runs", None)
            res["threads"] = dict(study, separate_run=os.environ["BENCH_THREADS_FROM"])
        elif "threads" not in only:
            prev = out_base.with_suffix(".json")
            try:
                old = json.loads(prev.read_text(encoding="utf-8")) if prev.exists() else {}
            except ValueError:
                old = {}
            if isinstance(old.get("threads"), dict):
                res["threads"] = dict(old["threads"], carried_over_from=old["threads"].get("carried_over_from")
                                      or {"report_started": old.get("started"), "git": old.get("git")})
    finally:
        res["total_s"] = round(time.perf_counter() - started, 1)
        res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        res["verdicts"] = verdicts(res)
        write_json(out_base.with_suffix(".json"), res)
        md = render(res)
        out_base.with_suffix(".md").write_text(md, encoding="utf-8")
        if not os.environ.get("BENCH_KEEP") and not os.environ.get("BENCH_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    print(md)
    log(f"wrote {out_base.with_suffix('.md')} and .json in {res['total_s'] / 60:.1f} min")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
