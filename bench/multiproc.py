"""Multi-process load: `lernbegleiter serve --workers N` (N = 1, 2) on one Chroma server, PostgreSQL and Redis.

All really started on loopback: `chroma run` (chromadb's CLI), PostgreSQL (Debian package, tests/pg.py),
`redis-server` (Debian package), the shipped corpus ingested once into the Chroma server. For each N the app
runs with every store shared (LB_CHROMA_URL, LB_DATABASE_URL, LB_REDIS_URL; the chat rate limit is on but high,
so every chat also costs a Redis round trip), warms its answer cache, then closed-loop SSE clients (bench/chat.py's
client) post questions from evals/corpus_questions.yaml: 50 streams for 5 min, then 100 streams for 1 min.
Every question text is made unique (a request number is appended), so the embedder's cache never answers the
question itself, as with real users. Reported: errors, first event and `done` p50/p95/p99, chats/s, RSS and
CPU of every server process over time. Results: evals/results/bench-multiproc.md + .json.

BENCH_QUICK=1      a few minutes: corpus/betriebsrat, 20 streams 20 s and 40 streams 10 s, report in $TMPDIR
BENCH_MP_WORKERS   comma list of process counts (default 1,2)
BENCH_MP_PHASES    comma list clients:seconds (default 50:300,100:60)
BENCH_MP_CORPUS    folder to ingest (default corpus/; a subfolder for a quick try)
BENCH_MP_OUT       output path without suffix (default evals/results/bench-multiproc)
BENCH_MP_NOTE      a line for the report (e.g. what else ran on the machine)
LB_*               harmless LB_ settings are passed on (as in make bench) and named in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .chat import _digest, one_chat, proc_cpu_s
from .common import CORPUS, QUICK, RESULTS, ROOT, child_env, lb_overrides, log, machine, proc_status, questions, summary_ms, \
    write_json

HOST = "127.0.0.1"
SAMPLE_S = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def server_processes(pid: int) -> dict[str, int]:
    """name -> pid: the uvicorn process ("main") and its spawned workers ("worker1", ...)."""
    out = {"main": pid}
    workers = sorted(c for c in _children(pid) if "spawn_main" in _cmdline(c))
    for i, c in enumerate(workers, 1):
        out[f"worker{i}"] = c
    return out


class Sampler(threading.Thread):
    """RSS (MiB) and CPU seconds of every server process every SAMPLE_S seconds, timed from ``t0``."""

    def __init__(self, procs: dict[str, int], t0: float) -> None:
        super().__init__(daemon=True)
        self.procs, self.t0 = procs, t0
        self.samples: list[dict[str, Any]] = []
        self.phase = "warm-up"
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            row: dict[str, Any] = {"t": round(time.monotonic() - self.t0, 1), "phase": self.phase}
            for name, pid in self.procs.items():
                st = proc_status(pid)
                row[name] = {"rss_mb": round(st.get("VmRSS", 0) / 1024, 1), "cpu_s": round(proc_cpu_s(pid) or 0.0, 1),
                             "threads": st.get("Threads", 0)}
            self.samples.append(row)
            self._stop.wait(SAMPLE_S)

    def stop(self) -> None:
        self._stop.set()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=3, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def wait_all_warm(base: str, workers: int, limit_s: float = 1200) -> dict[str, Any]:
    """Each worker pre-embeds the answer sentences on its own; /api/health reaches one worker at a time, so wait
    until many answers in a row (more than enough to have met every worker) say `done`."""
    import httpx

    need = 6 * workers + 4
    in_row, t = 0, time.perf_counter()
    while in_row < need and time.perf_counter() - t < limit_s:
        try:
            state = httpx.get(f"{base}/api/health", timeout=10, trust_env=False).json().get("warm_cache")
        except httpx.HTTPError:
            state = None
        in_row = in_row + 1 if state in ("done", "off") else 0
        time.sleep(0.1 if in_row else 2)
    out = {"done": in_row >= need, "wait_s": round(time.perf_counter() - t, 1)}
    log(f"answer cache warming in every worker: {out}")
    return out


async def run_phase(base: str, qs: list[tuple[str, str | None]], clients: int, seconds: float, timeout: float,
                    t0: float, counter: list[int]) -> tuple[list[dict[str, Any]], int]:
    import httpx

    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    recs: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, trust_env=False) as client:
        async def worker(w: int) -> None:
            rng = random.Random(7919 * clients + w)
            while time.monotonic() < deadline:
                q, role = rng.choice(qs)
                counter[0] += 1
                at = time.monotonic() - t0
                rec = await one_chat(client, base, f"{q} (Nr. {counter[0]})", role, timeout)
                rec["started_at"] = round(at, 2)
                recs.append(rec)

        tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=seconds + timeout)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return recs, len(pending)


def _phase_summary(recs: list[dict[str, Any]], wall: float, clients: int, seconds: float, unfinished: int,
                   cpu: dict[str, float]) -> dict[str, Any]:
    out = _digest(recs, wall)
    out.update(clients=clients, duration_s=seconds, wall_s=round(wall, 1), unfinished_at_grace=unfinished,
               server_cpu_s=cpu, server_cores_busy=round(sum(cpu.values()) / wall, 2) if wall else None)
    t_first = min((r["started_at"] for r in recs), default=0.0)
    steady = [r for r in recs if r["ok"] and r["started_at"] >= t_first + min(10.0, seconds / 3)]
    out["steady_first_event_ms"] = summary_ms([r["first"] for r in steady])
    return out


def run_workers(n: int, env: dict[str, str], phases: list[tuple[int, float]], qs: list[tuple[str, str | None]],
                work: Path, counter: list[int]) -> dict[str, Any]:
    import httpx

    port = _free_port()
    base = f"http://{HOST}:{port}"
    logf = (work / f"serve-{n}.log").open("w")
    t_start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--host", HOST, "--port", str(port),
                             "--workers", str(n)], cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    res: dict[str, Any] = {"workers": n, "phases": []}
    sampler: Sampler | None = None
    try:
        _wait_http(f"{base}/api/health", proc)
        res["startup_s"] = round(time.monotonic() - t_start, 1)
        time.sleep(1.0)
        procs = server_processes(proc.pid)
        res["processes"] = {k: _cmdline(v)[:120] for k, v in procs.items()}
        sampler = Sampler(procs, t_start)
        sampler.start()
        health = httpx.get(f"{base}/api/health", timeout=30, trust_env=False).json()
        res.update(passages=health.get("passages"), embedder=(health.get("embedder") or {}).get("name"),
                   answerer=health.get("answerer"), sessions=(health.get("sessions") or {}).get("backend"))
        res["warm"] = wait_all_warm(base, n)

        async def warmup() -> None:
            async with httpx.AsyncClient(timeout=120, trust_env=False) as c:
                for q, role in qs[: 3 * n]:
                    await one_chat(c, base, q, role, 120)

        asyncio.run(warmup())
        for clients, seconds in phases:
            log(f"{n} process(es): {clients} concurrent SSE streams for {seconds:.0f} s")
            sampler.phase = f"{clients} streams"
            cpu0 = {k: proc_cpu_s(v) or 0.0 for k, v in procs.items()}
            t = time.monotonic()
            recs, unfinished = asyncio.run(run_phase(base, qs, clients, seconds, 120.0, t_start, counter))
            wall = time.monotonic() - t
            cpu = {k: round((proc_cpu_s(v) or 0.0) - cpu0[k], 1) for k, v in procs.items()}
            ph = _phase_summary(recs, wall, clients, seconds, unfinished, cpu)
            ph["started_at_s"] = round(t - t_start, 1)
            ph["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
            res["phases"].append(ph)
            log(f"  -> {ph['ok']} ok, {ph['errors']} errors, first event p95 {ph['first_event_ms'].get('p95')} ms, "
                f"{ph['throughput_rps']} chats/s")
            sampler.phase = "pause"
            time.sleep(5)
        res["alive_after_load"] = proc.poll() is None and all(Path(f"/proc/{p}").exists() for p in procs.values())
        res["peak_rss_mb"] = {k: round(proc_status(v).get("VmHWM", 0) / 1024, 1) for k, v in procs.items()}
    finally:
        if sampler is not None:
            sampler.stop()
            res["samples"] = sampler.samples
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(10)
        logf.close()
        res["log_tail"] = (work / f"serve-{n}.log").read_text(errors="replace").splitlines()[-8:]
    return res


def rss_growth(samples: list[dict[str, Any]], name: str, phase: str) -> float | None:
    import numpy as np

    pts = [(s["t"], s[name]["rss_mb"]) for s in samples if s.get("phase") == phase and name in s]
    if len(pts) < 5:
        return None
    t, r = np.array(pts).T
    half = t >= t[0] + (t[-1] - t[0]) / 2  # second half of the phase: after the caches filled
    if half.sum() < 3:
        return None
    return round(float(np.polyfit(t[half], r[half], 1)[0]) * 60, 2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None, help="json path (also written: BENCH_MP_OUT .md/.json)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.multiproc import redis_server
    from tests.pg import postgres_server

    workers = [int(x) for x in os.environ.get("BENCH_MP_WORKERS", "1,2").split(",") if x.strip()]
    phases = [(int(c), float(s)) for c, s in (p.split(":") for p in os.environ.get(
        "BENCH_MP_PHASES", "20:20,40:10" if QUICK else "50:300,100:60").split(","))]
    out_base = Path(os.environ.get("BENCH_MP_OUT") or (Path(tempfile.gettempdir()) / "lb-bench-multiproc-quick"
                                                        if QUICK else RESULTS / "bench-multiproc"))
    res: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
                           "config": {"workers": workers, "phases": phases, "lb_overrides": lb_overrides()},
                           "note": os.environ.get("BENCH_MP_NOTE", ""), "runs": []}
    try:
        res["git"] = {"commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                               text=True).stdout.strip()}
    except OSError:
        res["git"] = {}
    work = Path(tempfile.mkdtemp(prefix="lb-multiproc-"))
    chroma = None
    try:
        exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
        cport = _free_port()
        chroma = subprocess.Popen([exe, "run", "--path", str(work / "chroma"), "--host", HOST, "--port", str(cport)],
                                  stdout=(work / "chroma.log").open("w"), stderr=subprocess.STDOUT,
                                  env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}, start_new_session=True)
        _wait_http(f"http://{HOST}:{cport}/api/v2/heartbeat", chroma)
        with postgres_server(_free_port()) as pg_url, redis_server(_free_port()) as redis_url:
            shared = {"LB_CHROMA_URL": f"http://{HOST}:{cport}", "LB_COLLECTION": f"bench{uuid.uuid4().hex[:6]}",
                      "LB_DATABASE_URL": pg_url, "LB_REDIS_URL": redis_url,
                      "LB_RATE_LIMIT_PER_MINUTE": "1000000"}  # on, so every chat costs a Redis round trip
            log("ingesting corpus/ into the Chroma server")
            t = time.perf_counter()
            corpus = os.environ.get("BENCH_MP_CORPUS") or str(CORPUS / "betriebsrat" if QUICK else CORPUS)
            res["corpus"] = os.path.relpath(corpus, ROOT)
            subprocess.run([sys.executable, "-m", "assistant", "ingest", corpus], cwd=ROOT,
                           env=child_env(work / "ingest-data", **shared), check=True, stdout=subprocess.DEVNULL,
                           timeout=3600)
            res["ingest_s"] = round(time.perf_counter() - t, 1)
            qs = questions()
            counter = [0]
            for n in workers:
                res["loadavg_before"] = res.get("loadavg_before") or [round(x, 2) for x in os.getloadavg()]
                env = child_env(work / f"data-{n}", **shared)
                run = run_workers(n, env, phases, qs, work, counter)
                for name in [k for k in (run.get("samples") or [{}])[0] if k not in ("t", "phase")]:
                    run.setdefault("rss_growth_mb_per_min", {})[name] = {
                        f"{c} streams": rss_growth(run["samples"], name, f"{c} streams") for c, _ in phases}
                res["runs"].append(run)
                write_json(out_base.with_suffix(".json"), res)
    finally:
        if chroma is not None and chroma.poll() is None:
            os.killpg(chroma.pid, 15)
            try:
                chroma.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(chroma.pid, 9)
        res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        write_json(out_base.with_suffix(".json"), res)
        from .report_multiproc import render

        md = render(res)
        out_base.with_suffix(".md").write_text(md, encoding="utf-8")
        if a.out:
            write_json(a.out, res)
        shutil.rmtree(work, ignore_errors=True)
    print(md)
    bad = [r for r in res["runs"] if not r.get("alive_after_load") or any(p["errors"] for p in r["phases"])]
    return 1 if bad or len(res["runs"]) < len(workers) else 0


if __name__ == "__main__":
    sys.exit(main())
