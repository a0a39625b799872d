"""Thread study for the embedder (issue: "choose, measure, document"): query-encoding latency inside the
real server, one user and under N concurrent chat streams, for several LB_EMBEDDER_THREADS / OMP_WAIT_POLICY
settings.

Each setting is one `python -m bench.chat` run against bench/whatif_server.py (the real `assistant serve`
whose embedder logs the duration of every `embed_query` and `embed` call, WHATIF_EMBED_LOG); the calls are
split into the single-user and the load phase by time. Settings run one after another, `--repeat` times in
turn (1, 2, ..., 1, 2, ...), so a change in the machine's load does not fall on one setting only.

    python -m bench.threads --data-dir CORPUS_DATA_DIR --out /tmp/threads.json \
        --configs 1:PASSIVE,2:PASSIVE,2:ACTIVE --single 30 --clients 50 --seconds 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, child_env, log, summary_ms, write_json


def _split(log_path: Path, phases: dict[str, list[float]]) -> dict[str, dict[str, list[float]]]:
    """Durations in seconds per phase and kind ('query', 'embed') from the what-if server's log."""
    out: dict[str, dict[str, list[float]]] = {p: {"query": [], "embed": []} for p in phases}
    if not log_path.exists():
        return out
    for line in log_path.read_text().splitlines():
        try:
            kind, t_end, ms, _n = line.split()
            t, d = float(t_end), float(ms) / 1000
        except ValueError:
            continue
        for phase, (t0, t1) in phases.items():
            if t0 <= t <= t1 and kind in out[phase]:
                out[phase][kind].append(d)
    return out


def run_setting(data_dir: Path, work: Path, threads: int, policy: str, rep: int, single: int, clients: int,
                seconds: float, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    tag = f"t{threads}-{policy.lower()}{''.join('-' + e.split('=')[0].lower() for e in extra)}-r{rep}"
    log_path = work / f"{tag}.embed.log"
    out = work / f"{tag}.json"
    log_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.chat", "--data-dir", str(data_dir), "--single", str(single),
           "--clients", str(clients), "--seconds", str(seconds), "--out", str(out),
           "--server-script", str(ROOT / "bench" / "whatif_server.py"),
           "--server-env", f"LB_EMBEDDER_THREADS={threads}", "--server-env", f"OMP_WAIT_POLICY={policy}",
           "--server-env", f"WHATIF_EMBED_LOG={log_path}", "--server-env", "WHATIF_FRESH_QUESTIONS=1"]
    for e in extra:
        cmd += ["--server-env", e]
    load_before = [round(x, 2) for x in os.getloadavg()]
    log(f"thread study: LB_EMBEDDER_THREADS={threads} OMP_WAIT_POLICY={policy} {' '.join(extra)} (round {rep + 1})")
    subprocess.run(cmd, cwd=ROOT, env=child_env(data_dir), check=True, timeout=1800)
    chat = json.loads(out.read_text(encoding="utf-8"))
    s1, ld = chat["single"], chat["load"]
    times = _split(log_path, {"single": s1["t_unix"], "load": ld["t_unix"]})
    # the first 3 single-user chats are warm-up (bench.chat): their calls are dropped
    warm = 3
    q_single = times["single"]["query"][warm:]
    return {
        "threads": threads, "omp_wait_policy": policy, "extra_env": list(extra), "round": rep + 1,
        "loadavg_before_after": [load_before, [round(x, 2) for x in os.getloadavg()]],
        "single": {"query_s": q_single, "embed_s": times["single"]["embed"],
                   "first_event_ms": s1["first_event_ms"], "done_ms": s1["done_ms"],
                   "server_cpu_ms_per_chat": s1.get("server_cpu_ms_per_chat"), "errors": s1["errors"]},
        "load": {"query_s": times["load"]["query"], "embed_s": times["load"]["embed"],
                 "first_event_ms": ld["first_event_ms"], "done_ms": ld["done_ms"],
                 "throughput_rps": ld.get("throughput_rps"), "requests": ld["requests"], "errors": ld["errors"],
                 "server_cpu_ms_per_chat": ld.get("server_cpu_ms_per_chat"),
                 "server_cores_busy": ld.get("server_cores_busy"),
                 "steady_first_event_ms": (ld.get("steady_state") or {}).get("first_event_ms")},
        "peak_rss_mb": chat["server"].get("peak_rss_vmhwm_mb"), "threads_after_load": chat["server"].get("threads_after_load"),
    }


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per setting: query / embed latency summaries over all rounds, chat figures per round."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(":".join([str(r["threads"]), r["omp_wait_policy"], *r.get("extra_env", [])]), []).append(r)
    out = {}
    for key, rs in by.items():
        out[key] = {
            "threads": rs[0]["threads"], "omp_wait_policy": rs[0]["omp_wait_policy"],
            "extra_env": rs[0].get("extra_env", []), "rounds": len(rs),
            "single_query_ms": summary_ms([x for r in rs for x in r["single"]["query_s"]]),
            "load_query_ms": summary_ms([x for r in rs for x in r["load"]["query_s"]]),
            "single_embed_call_ms": summary_ms([x for r in rs for x in r["single"]["embed_s"]]),
            "load_embed_call_ms": summary_ms([x for r in rs for x in r["load"]["embed_s"]]),
            "single_first_event_p95_ms": [r["single"]["first_event_ms"].get("p95") for r in rs],
            "single_done_p95_ms": [r["single"]["done_ms"].get("p95") for r in rs],
            "load_first_event_p95_ms": [r["load"]["first_event_ms"].get("p95") for r in rs],
            "load_first_event_p50_ms": [r["load"]["first_event_ms"].get("p50") for r in rs],
            "load_done_p95_ms": [r["load"]["done_ms"].get("p95") for r in rs],
            "load_throughput_rps": [r["load"]["throughput_rps"] for r in rs],
            "load_errors": sum(r["load"]["errors"] for r in rs) + sum(r["single"]["errors"] for r in rs),
            "server_cpu_ms_per_chat_load": [r["load"]["server_cpu_ms_per_chat"] for r in rs],
            "server_cores_busy_load": [r["load"]["server_cores_busy"] for r in rs],
            "peak_rss_mb": max((r["peak_rss_mb"] or 0) for r in rs),
            "loadavg_before": [r["loadavg_before_after"][0][0] for r in rs],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True, help="a corpus index built with the configured embedder")
    ap.add_argument("--configs", default="1:PASSIVE,2:PASSIVE,2:ACTIVE",
                    help="comma list of THREADS:OMP_WAIT_POLICY[:KEY=VALUE...] (extra server env, e.g. WHATIF_CACHE=1)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--single", type=int, default=30)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    work = a.work or a.out.parent / (a.out.stem + "-runs")
    work.mkdir(parents=True, exist_ok=True)
    configs = [(int(c.split(":")[0]), c.split(":")[1].upper(), tuple(c.split(":")[2:]))
               for c in a.configs.split(",") if c.strip()]
    res: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "configs": a.configs,
                           "repeat": a.repeat, "single": a.single, "clients": a.clients, "seconds": a.seconds,
                           "cpu_count": os.cpu_count(), "runs": []}
    for rep in range(a.repeat):
        for threads, policy, extra in configs:
            try:
                res["runs"].append(run_setting(a.data_dir, work, threads, policy, rep, a.single, a.clients, a.seconds,
                                               extra))
            except (subprocess.SubprocessError, OSError, ValueError, KeyError) as err:
                res.setdefault("errors", []).append(f"{threads}:{policy} round {rep + 1}: {type(err).__name__}: {err}")
            res["settings"] = merge(res["runs"])
            write_json(a.out, res)
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    res["settings"] = merge(res["runs"])
    write_json(a.out, res)


if __name__ == "__main__":
    main()
