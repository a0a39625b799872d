"""POST /api/chat against a real uvicorn server on loopback: time to first event and to `done`,
one user and many concurrent SSE clients; peak RSS of the server process.

The server is `python -m assistant serve` (the default stack: embedded Chroma, the configured embedder –
E5 unless LB_EMBEDDER says otherwise –, extractive answerer)
on a free 127.0.0.1 port with its own data dir and LB_RATE_LIMIT_PER_MINUTE=0. The load driver is
asyncio + httpx, bounded in clients, time and per request; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .common import ROOT, child_env, log, proc_status, questions, summary_ms, write_json

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all threads), from /proc/<pid>/stat."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class RssSampler(threading.Thread):
    """Samples VmRSS of a process every ``every`` seconds; VmHWM is read from the kernel."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss_kb = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self.phase_peaks: dict[str, int] = {}
        self.phase = "start"

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            st = proc_status(self.pid)
            rss = st.get("VmRSS", 0)
            if rss:
                self.peak_rss_kb = max(self.peak_rss_kb, rss)
                self.phase_peaks[self.phase] = max(self.phase_peaks.get(self.phase, 0), rss)
                self.samples.append((round(time.monotonic() - t0, 2), rss))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()


class Server:
    def __init__(self, data_dir: Path, log_path: Path, script: Path | None = None, extra_env: dict | None = None) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        env = child_env(data_dir, LB_RATE_LIMIT_PER_MINUTE="0", **(extra_env or {}))
        launch = [str(script)] if script else ["-m", "assistant"]
        t = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, *launch, "serve", "--host", HOST,
                                      "--port", str(self.port)], env=env, cwd=ROOT,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.sampler = RssSampler(self.proc.pid)
        self.sampler.start()
        self._wait_ready()
        self.startup_s = time.perf_counter() - t

    def _wait_ready(self, timeout: float = 180.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready after {timeout} s; log: {self.log_path}")

    def status(self) -> dict[str, int]:
        return proc_status(self.proc.pid)

    def stop(self) -> None:
        self.sampler.stop()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


async def one_chat(client, base: str, question: str, role: str | None, timeout: float) -> dict[str, Any]:
    """One POST /api/chat read to the end. Times: first complete SSE event, `done` event."""
    body = {"question": question, "role": role}
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"ok": False, "first": None, "done": None, "status": None, "error": None}

    async def run() -> None:
        kind = None
        async with client.stream("POST", f"{base}/api/chat", json=body) as r:
            rec["status"] = r.status_code
            if r.status_code != 200:
                await r.aread()
                rec["error"] = f"http {r.status_code}"
                return
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    now = time.perf_counter() - t0
                    if rec["first"] is None:
                        rec["first"] = now
                        rec["first_kind"] = kind
                    if kind == "meta":
                        try:
                            rec["retrieval_ms"] = json.loads(line.split(":", 1)[1]).get("retrieval_ms")
                        except ValueError:
                            pass
                    elif kind == "done":
                        rec["done"] = now
                        rec["answerable"] = json.loads(line.split(":", 1)[1]).get("answerable")
                    elif kind == "error":
                        rec["error"] = "error event"
        if rec["done"] is not None and rec["error"] is None:
            rec["ok"] = True
        elif rec["error"] is None:
            rec["error"] = "stream ended without done"

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        rec["error"] = f"timeout after {timeout:.0f} s"
    except Exception as err:  # noqa: BLE001 - every failure is counted, none stops the driver
        rec["error"] = f"{type(err).__name__}: {err}"[:200]
    rec["wall"] = time.perf_counter() - t0
    return rec


def _digest(recs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    ok = [r for r in recs if r["ok"]]
    errors: dict[str, int] = {}
    for r in recs:
        if not r["ok"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    retr = [r["retrieval_ms"] / 1000 for r in ok if r.get("retrieval_ms") is not None]
    return {"requests": len(recs), "ok": len(ok), "errors": sum(errors.values()), "error_kinds": errors,
            "answered": sum(1 for r in ok if r.get("answerable")), "declined": sum(1 for r in ok if r.get("answerable") is False),
            "first_event_ms": summary_ms([r["first"] for r in ok]), "done_ms": summary_ms([r["done"] for r in ok]),
            "server_retrieval_ms": summary_ms(retr), "seconds": round(seconds, 1),
            "throughput_rps": round(len(ok) / seconds, 2) if seconds else None}


def wait_warm(base: str, limit_s: float = 900) -> dict[str, Any]:
    """serve pre-embeds the answer sentences in the background (LB_WARM_CACHE): measure a warmed server,
    as users meet it after its first minute, and say how long the warming took."""
    import httpx

    t_warm, state = time.perf_counter(), None
    while time.perf_counter() - t_warm < limit_s:
        try:
            state = httpx.get(f"{base}/api/health", timeout=10, trust_env=False).json().get("warm_cache")
        except httpx.HTTPError:
            state = None
        if state in ("done", "off"):
            break
        time.sleep(2)
    out = {"state": state, "wait_s": round(time.perf_counter() - t_warm, 1)}
    log(f"answer cache warming: {state} after {out['wait_s']} s")
    return out


async def single_user(base: str, qs: list[tuple[str, str | None]], n: int, timeout: float) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), trust_env=False) as client:
        for q, role in qs[:3]:  # warm-up: first embedder call, lexical index load, SQLite
            await one_chat(client, base, q, role, timeout)
        recs = []
        t = time.perf_counter()
        for i in range(n):
            q, role = qs[(i + 3) % len(qs)]
            recs.append(await one_chat(client, base, q, role, timeout))
        return _digest(recs, time.perf_counter() - t)


async def load(base: str, qs: list[tuple[str, str | None]], clients: int, seconds: float, timeout: float,
               grace: float) -> dict[str, Any]:
    """``clients`` closed-loop SSE clients; each starts a new chat as soon as the last one ended,
    until ``seconds`` have passed. Requests still running then may finish within ``grace`` seconds."""
    import httpx

    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    recs: list[dict[str, Any]] = []
    started = time.perf_counter()
    deadline = started + seconds

    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, trust_env=False) as client:
        async def worker(w: int) -> None:
            rng = random.Random(w)
            while time.perf_counter() < deadline:
                q, role = rng.choice(qs)
                at = time.perf_counter() - started
                rec = await one_chat(client, base, q, role, timeout)
                rec["started_at"] = round(at, 2)
                recs.append(rec)

        tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=seconds + grace)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    wall = time.perf_counter() - started
    out = _digest(recs, wall)
    out.update(clients=clients, duration_s=seconds, unfinished_at_grace=len(pending),
               wall_s=round(wall, 1))
    # steady state: requests started after the first 10 s (the initial burst of `clients` at once excluded)
    steady = [r for r in recs if r["started_at"] >= min(10.0, seconds / 3)]
    if steady:
        s = _digest(steady, wall)
        out["steady_state"] = {"requests": s["requests"], "errors": s["errors"],
                               "first_event_ms": s["first_event_ms"], "done_ms": s["done_ms"]}
    return out


def pyspy_start(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """Samples the server with py-spy during the load phase (only if py-spy is installed in the venv)."""
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        return None
    return subprocess.Popen([str(exe), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50",
                             "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pyspy_summary(raw: Path, top: int = 15) -> dict[str, Any]:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks."""
    incl: dict[str, int] = {}
    self_: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in f else f
                  for f in stack.split(";")]
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
        self_[frames[-1]] = self_.get(frames[-1], 0) + n
    pick = lambda d: [(k, round(v / total * 100, 1)) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]  # noqa: E731
    return {"samples": total, "inclusive_pct": pick(incl), "self_pct": pick(self_)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--single", type=int, default=50)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--grace", type=float, default=180)
    ap.add_argument("--pyspy", action="store_true", help="sample the server with py-spy during the load")
    ap.add_argument("--server-script", type=Path, default=None,
                    help="what-if experiments: a script taking the `serve` arguments instead of `-m assistant`")
    ap.add_argument("--server-env", action="append", default=[], help="KEY=VALUE for the server (what-if experiments)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    qs = questions()
    random.Random(1).shuffle(qs)
    log(f"starting server on loopback with data dir {a.data_dir}")
    srv = Server(a.data_dir, a.out.with_suffix(".server.log"), a.server_script,
                 dict(kv.split("=", 1) for kv in a.server_env))
    res: dict[str, Any] = {"server": {"pid": srv.proc.pid, "port": srv.port, "startup_s": round(srv.startup_s, 2),
                                      "cmd": f"python {a.server_script} serve" if a.server_script else "python -m assistant serve",
                                      "env": " ".join(["LB_RATE_LIMIT_PER_MINUTE=0", *a.server_env])}}
    try:
        res["server"]["rss_after_start_mb"] = round(srv.status().get("VmRSS", 0) / 1024, 1)
        res["server"]["warm_cache"] = wait_warm(srv.base)
        srv.sampler.phase = "single"
        log(f"single user: {a.single} chats one after another")
        cpu0 = proc_cpu_s(srv.proc.pid)
        t_unix = time.time()
        res["single"] = asyncio.run(single_user(srv.base, qs, a.single, a.timeout))
        res["single"]["t_unix"] = [round(t_unix, 3), round(time.time(), 3)]  # phase start/end (incl. warm-up)
        cpu1 = proc_cpu_s(srv.proc.pid)
        if cpu0 is not None and cpu1 is not None:  # includes the 3 warm-up chats
            res["single"]["server_cpu_ms_per_chat"] = round((cpu1 - cpu0) / (a.single + 3) * 1000, 1)
        res["server"]["rss_after_single_mb"] = round(srv.status().get("VmRSS", 0) / 1024, 1)
        srv.sampler.phase = "load"
        log(f"load: {a.clients} concurrent SSE clients for {a.seconds:.0f} s")
        spy_out = a.out.with_suffix(".pyspy.txt")
        spy = pyspy_start(srv.proc.pid, a.seconds, spy_out) if a.pyspy else None
        cpu0, client_cpu0 = proc_cpu_s(srv.proc.pid), time.process_time()
        t_unix = time.time()
        res["load"] = asyncio.run(load(srv.base, qs, a.clients, a.seconds, a.timeout, a.grace))
        res["load"]["t_unix"] = [round(t_unix, 3), round(time.time(), 3)]
        cpu1 = proc_cpu_s(srv.proc.pid)
        if cpu0 is not None and cpu1 is not None:
            used = cpu1 - cpu0
            res["load"]["server_cpu_s"] = round(used, 1)
            res["load"]["server_cpu_ms_per_chat"] = round(used / max(res["load"]["requests"], 1) * 1000, 1)
            res["load"]["server_cores_busy"] = round(used / res["load"]["wall_s"], 2)
        res["load"]["client_cpu_s"] = round(time.process_time() - client_cpu0, 1)
        if spy is not None:
            try:
                spy.wait(30)
                res["load_profile"] = pyspy_summary(spy_out)
            except (subprocess.TimeoutExpired, OSError, IndexError, ZeroDivisionError) as err:
                spy.kill()
                res["load_profile"] = {"error": f"{type(err).__name__}: {err}"}
        srv.sampler.phase = "after"
        time.sleep(1.0)
        st = srv.status()
        res["server"].update(
            rss_after_load_mb=round(st.get("VmRSS", 0) / 1024, 1),
            peak_rss_vmhwm_mb=round(st.get("VmHWM", 0) / 1024, 1),
            peak_rss_sampled_mb=round(srv.sampler.peak_rss_kb / 1024, 1),
            rss_phase_peaks_mb={k: round(v / 1024, 1) for k, v in srv.sampler.phase_peaks.items()},
            threads_after_load=st.get("Threads"),
            alive_after_load=srv.proc.poll() is None,
        )
    finally:
        srv.stop()
    res["server"]["log_tail"] = srv.log_path.read_text(errors="replace").splitlines()[-15:]
    write_json(a.out, res)


if __name__ == "__main__":
    main()
