"""`make soak` / `python -m bench.soak`: many concurrent chat streams for a long time against a real server.

Default: 50 closed-loop SSE clients for 10 minutes against `python -m assistant serve` (the default stack) on
loopback, with the shipped corpus ingested into a temp data dir. Reported: errors (by kind), time to the first
SSE event and to `done` (p50/p95/p99, overall and per time window), throughput, and the server's RSS, threads
and open file descriptors over time (sampled every 2 s; growth fitted over the second half of the run).
Results: evals/results/soak.md + soak.json. The load machinery (server, SSE client) is bench/chat.py's.

SOAK_SECONDS   load duration in seconds (default 600)
SOAK_CLIENTS   concurrent SSE clients (default 50)
SOAK_WINDOW    seconds per report window (default 60; at most a tenth of the duration)
SOAK_TIMEOUT   per-request timeout in seconds (default 120)
SOAK_OUT       output path without suffix (default evals/results/soak)
SOAK_DATA      an existing data dir holding the corpus index (default: corpus/ ingested into a temp dir)
SOAK_NOTE      a line for the report (e.g. "machine shared with other jobs")
LB_*           harmless LB_ settings are passed on (as in make bench); LB_DATA_DIR, LB_LLM_* ... never are.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .chat import Server, _digest, one_chat, proc_cpu_s, single_user, wait_warm
from .common import CORPUS, RESULTS, ROOT, child_env, lb_overrides, log, machine, proc_status, questions, summary_ms, write_json


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class ProcSampler(threading.Thread):
    """RSS, threads, open fds and CPU seconds of a process every ``every`` seconds, timed from ``t0``."""

    def __init__(self, pid: int, t0: float, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.t0, self.every = pid, t0, every
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            st = proc_status(self.pid)
            if st.get("VmRSS"):
                try:
                    fds = len(os.listdir(f"/proc/{self.pid}/fd"))
                except OSError:
                    fds = -1
                self.samples.append({"t": round(time.monotonic() - self.t0, 1), "rss_mb": round(st["VmRSS"] / 1024, 1),
                                     "threads": st.get("Threads", 0), "fds": fds,
                                     "cpu_s": round(proc_cpu_s(self.pid) or 0.0, 1)})
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()


async def soak_load(base: str, qs: list[tuple[str, str | None]], clients: int, seconds: float, timeout: float,
                    grace: float, t0: float) -> tuple[list[dict[str, Any]], int]:
    """bench.chat.load() with every request kept: ``clients`` closed-loop clients until ``seconds`` have passed;
    ``started_at`` is relative to ``t0`` (monotonic), as the samples are."""
    import httpx

    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    recs: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, trust_env=False) as client:
        async def worker(w: int) -> None:
            rng = random.Random(1000 + w)
            while time.monotonic() < deadline:
                q, role = rng.choice(qs)
                at = time.monotonic() - t0
                rec = await one_chat(client, base, q, role, timeout)
                rec["started_at"] = round(at, 2)
                recs.append(rec)

        tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=seconds + grace)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return recs, len(pending)


def windows(recs: list[dict[str, Any]], samples: list[dict[str, float]], seconds: float,
            width: float) -> list[dict[str, Any]]:
    out = []
    n = max(1, int(np.ceil(seconds / width)))
    for i in range(n):
        lo, hi = i * width, min((i + 1) * width, seconds)
        rs = [r for r in recs if lo <= r["started_at"] < hi or (i == n - 1 and r["started_at"] >= hi)]
        ok = [r for r in rs if r["ok"]]
        ss = [s for s in samples if lo <= s["t"] < hi] or samples[-1:]
        out.append({"from_s": round(lo), "to_s": round(hi), "requests": len(rs), "errors": len(rs) - len(ok),
                    "first_event_ms": summary_ms([r["first"] for r in ok]), "done_ms": summary_ms([r["done"] for r in ok]),
                    "rss_mb": {"min": min(s["rss_mb"] for s in ss), "max": max(s["rss_mb"] for s in ss),
                               "last": ss[-1]["rss_mb"]} if ss else None,
                    "threads_max": max((s["threads"] for s in ss), default=None),
                    "fds_max": max((s["fds"] for s in ss), default=None)})
    return out


def growth_mb_per_min(samples: list[dict[str, float]], start: float, end: float) -> float | None:
    """Least-squares slope of RSS over [start, end] in MiB per minute (None with fewer than 5 samples)."""
    pts = [(s["t"], s["rss_mb"]) for s in samples if start <= s["t"] <= end]
    if len(pts) < 5:
        return None
    t, r = np.array(pts).T
    return round(float(np.polyfit(t, r, 1)[0]) * 60, 2)


def _git() -> dict[str, Any]:
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()  # noqa: E731
        return {"commit": run("rev-parse", "--short", "HEAD"), "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {}


def _fmt(s: dict[str, Any] | None, keys=("p50", "p95", "p99")) -> str:
    if not s or not s.get("n"):
        return "–"
    return " / ".join(f"{s[k]:.0f}" for k in keys)


def render(res: dict[str, Any]) -> str:
    load, srv, cfg = res["load"], res["server"], res["config"]
    m = res["machine"]
    lines = [
        "# Soak test: concurrent chat streams against a real server",
        "",
        f"Run {res['started']} (commit {res['git'].get('commit', '?')}{', dirty tree' if res['git'].get('dirty') else ''}) "
        f"by `make soak` (bench/soak.py). {cfg['clients']} closed-loop SSE clients, {cfg['seconds']:.0f} s "
        f"(SOAK_SECONDS), request timeout {cfg['timeout']:.0f} s; `python -m assistant serve` on loopback with "
        f"{res['data']}: {srv.get('passages', '?')} passages; embedder `{srv.get('embedder', '?')}`, answerer "
        f"`{srv.get('answerer', '?')}`, LB_RATE_LIMIT_PER_MINUTE=0"
        + (f", {' '.join(f'{k}={v}' for k, v in cfg['lb_overrides'].items())}" if cfg["lb_overrides"] else "") + ".",
        "",
        f"Machine: {m['cpu_count']} cores ({m['cpu_model']}), {m['mem_total_gb']} GB RAM; load average (1/5/15 min) "
        f"before {res['loadavg_before']}, after {res['loadavg_after']}."
        + (f" Note: {res['note']}" if res.get("note") else ""),
        "",
        "## Summary",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests (started in the load phase) | {load['requests']} |",
        f"| completed (`done` received) | {load['ok']} |",
        f"| errors | {load['errors']}" + (f" ({', '.join(f'{k}: {v}' for k, v in load['error_kinds'].items())})"
                                         if load["error_kinds"] else "") + " |",
        f"| still running at the end of the grace period | {load['unfinished_at_grace']} |",
        f"| throughput | {load['throughput_rps']} chats/s |",
        f"| first event p50 / p95 / p99 (ms) | {_fmt(load['first_event_ms'])} |",
        f"| `done` p50 / p95 / p99 (ms) | {_fmt(load['done_ms'])} |",
        f"| first event p50 / p95 / p99, steady state (after the first window) | {_fmt(load.get('steady_first_event_ms'))} |",
        f"| answered / declined | {load['answered']} / {load['declined']} |",
        f"| server RSS after start / after warm-up / peak (VmHWM) / at the end (MiB) | {srv['rss_after_start_mb']} / "
        f"{srv['rss_after_warmup_mb']} / {srv['peak_rss_vmhwm_mb']} / {srv['rss_end_mb']} |",
        f"| RSS growth over the second half of the load | {srv['rss_growth_mb_per_min_second_half']} MiB/min |",
        f"| threads / open fds at the end (max during load) | {srv['threads_end']} / {srv['fds_end']} "
        f"({srv['threads_max']} / {srv['fds_max']}) |",
        f"| server CPU during the load | {load.get('server_cpu_s')} s ({load.get('server_cores_busy')} cores busy) |",
        f"| server alive after the load | {srv['alive_after_load']} |",
        "",
        "## Over time",
        "",
        "Requests by the time they started; latencies of completed ones; RSS of the server in that window.",
        "",
        "| window (s) | requests | errors | first event p50 / p95 / p99 (ms) | done p50 / p95 (ms) | RSS min / max / last (MiB) | threads | fds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in res["windows"]:
        rss = w["rss_mb"] or {}
        lines.append(f"| {w['from_s']}–{w['to_s']} | {w['requests']} | {w['errors']} | {_fmt(w['first_event_ms'])} | "
                     f"{_fmt(w['done_ms'], ('p50', 'p95'))} | {rss.get('min', '–')} / {rss.get('max', '–')} / "
                     f"{rss.get('last', '–')} | {w['threads_max']} | {w['fds_max']} |")
    lines += [
        "",
        "## Method",
        "",
        "Each client posts a question from evals/corpus_questions.yaml (with its role, seeded random choice) to "
        "`POST /api/chat` without a session id (every chat opens a new session, so the session store grows during "
        "the run), reads the SSE stream to `done` and starts the next one at once. An error is a non-200 status, "
        "an `error` event, a stream without `done`, a timeout or a connection failure. First event = time from "
        "sending the request to the first complete SSE event (`meta`). RSS/threads/fds are read from /proc every "
        "2 s; the growth figure is a least-squares slope over the second half of the load phase. Three chats warm "
        "the server up before the load (first embedder call, lexical index, SQLite). Raw samples: soak.json.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    seconds = _env_float("SOAK_SECONDS", 600)
    clients = int(_env_float("SOAK_CLIENTS", 50))
    width = min(_env_float("SOAK_WINDOW", 60), max(seconds / 10, 5))
    timeout = _env_float("SOAK_TIMEOUT", 120)
    out_base = Path(os.environ.get("SOAK_OUT") or RESULTS / "soak")
    res: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(), "git": _git(),
                           "note": os.environ.get("SOAK_NOTE", ""),
                           "config": {"seconds": seconds, "clients": clients, "window_s": width, "timeout": timeout,
                                      "grace_s": timeout, "lb_overrides": lb_overrides()}}
    work = Path(tempfile.mkdtemp(prefix="lb-soak-"))
    try:
        data = Path(os.environ["SOAK_DATA"]) if os.environ.get("SOAK_DATA") else work / "data"
        res["data"] = f"the index in SOAK_DATA ({data})"
        if not os.environ.get("SOAK_DATA"):
            log(f"ingesting corpus/ into {data}")
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "assistant", "ingest", str(CORPUS)], cwd=ROOT, env=child_env(data),
                           check=True, stdout=subprocess.DEVNULL, timeout=3600)
            res["ingest_s"] = round(time.perf_counter() - t, 1)
            res["data"] = f"the shipped corpus (ingested in {res['ingest_s']:.0f} s before the run)"
        qs = questions()
        res["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
        srv = Server(data, work / "server.log")
        t0 = time.monotonic()
        sampler = ProcSampler(srv.proc.pid, t0)
        sampler.start()
        try:
            import httpx

            health = httpx.get(f"{srv.base}/api/health", timeout=30).json()
            server: dict[str, Any] = {"startup_s": round(srv.startup_s, 1), "passages": health.get("passages"),
                                      "embedder": (health.get("embedder") or {}).get("name"),
                                      "answerer": health.get("answerer"),
                                      "rss_after_start_mb": round(srv.status().get("VmRSS", 0) / 1024, 1)}
            server["warm_cache"] = wait_warm(srv.base)  # serve's background pre-embedding of answer sentences
            asyncio.run(single_user(srv.base, qs, 0, timeout))  # three warm-up chats
            server["rss_after_warmup_mb"] = round(srv.status().get("VmRSS", 0) / 1024, 1)
            log(f"load: {clients} concurrent SSE clients for {seconds:.0f} s")
            load_t0 = time.monotonic() - t0
            cpu0 = proc_cpu_s(srv.proc.pid)
            recs, unfinished = asyncio.run(soak_load(srv.base, qs, clients, seconds, timeout, timeout, t0))
            wall = time.monotonic() - t0 - load_t0
            cpu1 = proc_cpu_s(srv.proc.pid)
            time.sleep(2.5)
            st = srv.status()
            server.update(rss_end_mb=round(st.get("VmRSS", 0) / 1024, 1),
                          peak_rss_vmhwm_mb=round(st.get("VmHWM", 0) / 1024, 1),
                          alive_after_load=srv.proc.poll() is None)
        finally:
            sampler.stop()
            srv.stop()
        for r in recs:
            r["started_at"] = round(r["started_at"] - load_t0, 2)
        samples = [{**s, "t": round(s["t"] - load_t0, 1)} for s in sampler.samples]
        load = _digest(recs, wall)
        load.update(clients=clients, duration_s=seconds, wall_s=round(wall, 1), unfinished_at_grace=unfinished)
        steady = [r for r in recs if r["ok"] and r["started_at"] >= width]
        load["steady_first_event_ms"] = summary_ms([r["first"] for r in steady])
        if cpu0 is not None and cpu1 is not None:
            load["server_cpu_s"] = round(cpu1 - cpu0, 1)
            load["server_cores_busy"] = round((cpu1 - cpu0) / wall, 2)
        during = [s for s in samples if 0 <= s["t"] <= seconds] or samples
        server.update(rss_growth_mb_per_min_second_half=growth_mb_per_min(samples, seconds / 2, seconds),
                      threads_end=samples[-1]["threads"] if samples else None,
                      fds_end=samples[-1]["fds"] if samples else None,
                      threads_max=max((s["threads"] for s in during), default=None),
                      fds_max=max((s["fds"] for s in during), default=None),
                      log_tail=(work / "server.log").read_text(errors="replace").splitlines()[-10:])
        res.update(load=load, server=server, windows=windows(recs, samples, seconds, width),
                   loadavg_after=[round(x, 2) for x in os.getloadavg()], samples=samples,
                   requests=[{k: r.get(k) for k in ("started_at", "ok", "first", "done", "error", "answerable")}
                             for r in recs])
        write_json(out_base.with_suffix(".json"), res)
        md = render(res)
        out_base.with_suffix(".md").write_text(md, encoding="utf-8")
        print(md)
        log(f"wrote {out_base.with_suffix('.md')} and .json")
        return 0 if load["errors"] == 0 and server["alive_after_load"] else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
