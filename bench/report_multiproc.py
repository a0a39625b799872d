"""bench-multiproc.md from the results of bench/multiproc.py."""

from __future__ import annotations

from typing import Any

TARGET_P95_MS = 1000.0


def _ms(s: dict[str, Any] | None, keys=("p50", "p95", "p99")) -> str:
    if not s or not s.get("n"):
        return "–"
    return " / ".join(f"{s[k]:,.0f}" for k in keys)


def _verdict(run: dict[str, Any], ph: dict[str, Any]) -> str:
    if ph["clients"] != 50:
        return ""
    p95 = (ph.get("first_event_ms") or {}).get("p95")
    if p95 is None:
        return "no data"
    return f"{'met' if p95 <= TARGET_P95_MS else '**missed**'} ({p95:,.0f} ms)"


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    cfg = res["config"]
    lines = [
        "# Multi-process load: `serve --workers N` on Chroma server, PostgreSQL and Redis",
        "",
        f"Run {res['started']} (commit {res.get('git', {}).get('commit', '?')}) by `python -m bench.multiproc` "
        f"(part of `make bench`, step `multiproc`). Machine: {m['cpu_count']} cores ({m['cpu_model']}), "
        f"{m['mem_total_gb']} GB RAM. Load average before {res.get('loadavg_before')}, after "
        f"{res.get('loadavg_after')}." + (f" Note: {res['note']}" if res.get("note") else ""),
        "",
        "Stack, all real and on loopback: `chroma run` (Chroma server), PostgreSQL (sessions), `redis-server` (rate "
        f"limits, on for every chat), `lernbegleiter serve --workers N`; `{res.get('corpus', 'corpus')}` ingested into "
        f"the Chroma server ({res.get('ingest_s', '?')} s). LB_ overrides: "
        + (", ".join(f"{k}={v}" for k, v in cfg["lb_overrides"].items()) or "none") + ".",
        "",
        "## Figures",
        "",
        "| processes | streams × duration | requests | errors | first event p50 / p95 / p99 ms | first event p95 "
        "after the first 10 s | `done` p50 / p95 ms | chats/s | server cores busy | target p95 ≤ 1 s at 50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in res["runs"]:
        for ph in run["phases"]:
            lines.append(
                f"| {run['workers']} | {ph['clients']} × {ph['duration_s']:.0f} s | {ph['requests']} | {ph['errors']}"
                + (f" ({', '.join(f'{k}: {v}' for k, v in ph['error_kinds'].items())})" if ph["error_kinds"] else "")
                + f" | {_ms(ph['first_event_ms'])} | {_ms(ph.get('steady_first_event_ms'), ('p95',))} | "
                f"{_ms(ph['done_ms'], ('p50', 'p95'))} | {ph['throughput_rps']} | {ph.get('server_cores_busy')} | "
                f"{_verdict(run, ph)} |")
    lines += ["", "## Server processes", "",
              "| processes | process | start s | warm-up s (all workers) | peak RSS (VmHWM) MiB | CPU s per phase | "
              "RSS growth, 2nd half of each phase (MiB/min) |",
              "|---|---|---|---|---|---|---|"]
    for run in res["runs"]:
        for name, peak in (run.get("peak_rss_mb") or {}).items():
            cpu = ", ".join(f"{ph['clients']}: {ph['server_cpu_s'].get(name)}" for ph in run["phases"])
            growth = ", ".join(f"{k}: {v}" for k, v in (run.get("rss_growth_mb_per_min") or {}).get(name, {}).items())
            lines.append(f"| {run['workers']} | {name} | {run.get('startup_s')} | {(run.get('warm') or {}).get('wait_s')} "
                         f"| {peak} | {cpu} | {growth} |")
    lines += ["", "## RSS per process over time (MiB, one sample a minute; t from the server's start)", ""]
    for run in res["runs"]:
        samples = run.get("samples") or []
        if not samples:
            continue
        names = [k for k in samples[0] if k not in ("t", "phase")]
        lines += [f"**{run['workers']} process(es)**", "",
                  "| t (s) | phase | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        last_min = -1
        for s in samples:
            minute = int(s["t"] // 60)
            if minute != last_min or s is samples[-1]:
                last_min = minute
                lines.append(f"| {s['t']:.0f} | {s['phase']} | "
                             + " | ".join(str((s.get(n) or {}).get("rss_mb", "–")) for n in names) + " |")
        lines.append("")
    lines += [
        "## Method",
        "",
        "For each N the server starts, every worker pre-embeds the answer sentences of the course (`LB_WARM_CACHE`; "
        "the load waits until many health answers in a row say `done`), three chats per worker warm up, then the "
        "phases run one after the other: closed-loop SSE clients (asyncio + httpx in the benchmark process, which "
        "shares the cores with the servers) each post a question from evals/corpus_questions.yaml with its role, "
        "read the stream to `done` and post the next. The question text gets a request number appended "
        "(`… (Nr. 123)`), so the embedder's text → vector cache never holds the question: every chat encodes its "
        "question for real, as a new user's would. No session id is sent: every chat opens a new session in "
        "PostgreSQL. Errors: non-200, `error` event, stream without `done`, timeout (120 s), transport error. First "
        "event = first complete SSE event (`meta`, sent after retrieval). RSS and CPU from /proc every 5 s for the "
        "uvicorn process (`main`; with N > 1 the supervisor) and each spawned worker. Raw samples: "
        "bench-multiproc.json.",
        "",
    ]
    return "\n".join(lines)
