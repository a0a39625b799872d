"""`lernbegleiter serve --workers N`: N uvicorn worker processes on one port, each building its own app.

Every worker calls the app factory (`assistant.web.api:create_app`), which reads the same `LB_*` environment
and builds its own ChatService (embedder, Chroma client, session store). What the workers share lives outside
them: passages in a Chroma server (`LB_CHROMA_URL`, required: an embedded Chroma keeps its vector index in each
process's memory and would not see another process's writes), sessions in PostgreSQL (`LB_DATABASE_URL`;
SQLite works on one machine) and the rate limits in Redis (`LB_REDIS_URL`; without it each process counts on
its own, so N processes allow N times the limit). The lexical index follows the collection's fingerprint in
every process (assistant/search/retrieval.py), so an ingest run anywhere is seen by all workers within seconds.

Each worker listens on its own socket bound to the same port (SO_REUSEPORT, Linux), so the kernel spreads new
connections over the workers. Without the CLI, the same app runs under any ASGI server, e.g.
    uvicorn --factory assistant.web.api:create_app --workers N --host 0.0.0.0 --port 8000 --no-proxy-headers
(one shared socket there: under bursts of keep-alive connections one worker may get most of them), or as N
single-process `lernbegleiter serve --port P_i` behind the reverse proxy's load balancing (docs/deploy.md).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Any

from ..settings import Settings

APP_FACTORY = "assistant.web.api:create_app"
log = logging.getLogger("lernbegleiter")


def embedder_threads_for(workers: int, cores: int | None = None) -> int:
    """OpenMP threads per worker so that all workers together use each core once."""
    if not cores:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, int(cores) // max(1, workers))


def check(settings: Settings, workers: int) -> tuple[list[str], list[str]]:
    """(errors, warnings) in German for running ``workers`` processes with these settings."""
    errors: list[str] = []
    warnings: list[str] = []
    if workers > 1 and not settings.chroma_url:
        errors.append("Mehrere Server-Prozesse (--workers > 1) brauchen einen Chroma-Server (LB_CHROMA_URL, z. B. "
                      "http://127.0.0.1:8001 nach „chroma run --path …“): Das eingebettete Chroma hält seinen "
                      "Vektorindex im Speicher jedes Prozesses und sähe neue Passagen der anderen nicht.")
    if workers > 1 and not settings.redis_url and settings.rate_limit_per_minute:
        warnings.append(f"LB_REDIS_URL ist nicht gesetzt: Jeder der {workers} Prozesse zählt die Ratenlimits für "
                        f"sich, ein Client darf also bis zum {workers}-fachen Limit fragen.")
    if workers > 1 and not settings.database_url:
        warnings.append("LB_DATABASE_URL ist nicht gesetzt: Die Unterhaltungen liegen in SQLite unter dem "
                        "Datenverzeichnis. Das geht auf einer Maschine; für mehrere Maschinen PostgreSQL verwenden.")
    return errors, warnings


def _preflight(queue: Any) -> None:  # pragma: no cover - runs in a spawned child
    """Builds the service once as every worker will (index, embedder, session store, prompts) and reports
    a German error instead of N workers failing one after another."""
    from ..cli import _warn_stale
    from ..search.index import IndexError_
    from ..service import ChatService

    try:
        settings = Settings()
        svc = ChatService.build(settings)
        _warn_stale(svc, settings)
        svc.close()
        queue.put(None)
    except IndexError_ as e:
        queue.put(str(e))
    except Exception as e:  # noqa: BLE001 - any start-up failure is reported, not retried N times
        queue.put(f"Der Dienst konnte nicht gestartet werden ({type(e).__name__}).")


def preflight() -> str | None:
    """Runs `_preflight` in a fresh process (the supervisor stays small: no model in its memory)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_preflight, args=(queue,), name="lb-preflight")
    proc.start()
    proc.join()
    try:
        return queue.get(timeout=5)
    except Exception:  # noqa: BLE001 - the child died without a word
        return f"Die Startprüfung ist abgebrochen (Exit-Code {proc.exitcode})."


def run(host: str, port: int, workers: int) -> None:
    """Starts ``workers`` processes, each with its own listening socket on host:port (SO_REUSEPORT), and keeps
    them running until SIGTERM/SIGINT. With one shared socket (uvicorn's --workers) the process that happens
    to be in accept() takes a whole burst of new connections, and keep-alive connections stay there: in our
    load test one worker served nearly every stream while the other idled. With a socket per worker the kernel
    spreads the connections by their addresses; a worker that dies takes its socket along, so no connection
    waits for it, and it is started again."""
    import signal
    import time

    ctx = multiprocessing.get_context("spawn")
    stopping = {"flag": False}

    def start(i: int):
        proc = ctx.Process(target=_worker, args=(host, port, i), name=f"lb-worker-{i}")
        proc.start()
        return proc, time.monotonic()

    def stop(*_: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start(i) for i in range(workers)]
    quick_deaths = 0
    while not stopping["flag"]:
        time.sleep(0.5)
        for i, (proc, started) in enumerate(procs):
            if proc.is_alive() or stopping["flag"]:
                continue
            quick_deaths = quick_deaths + 1 if time.monotonic() - started < 60 else 0
            if quick_deaths > 3 * workers:  # broken, not unlucky: stop instead of restarting forever
                log.error("workers keep failing at start-up; stopping")
                stopping["flag"] = True
                break
            log.warning("worker %d (pid %s) exited with %s; starting it again", i, proc.pid, proc.exitcode)
            procs[i] = start(i)
    for proc, _ in procs:
        if proc.is_alive():
            proc.terminate()  # uvicorn in the worker finishes open requests (graceful shutdown)
    for proc, _ in procs:
        proc.join(60)
        if proc.is_alive():
            proc.kill()
            proc.join(5)


def listen_socket(host: str, port: int):
    """A listening TCP socket with SO_REUSEPORT: one per worker on the same address."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, index: int) -> None:  # pragma: no cover - runs in a spawned worker
    import uvicorn

    sock = listen_socket(host, port)
    # proxy_headers=False: the app applies X-Forwarded-For for LB_TRUSTED_PROXIES only (see ratelimit.py)
    config = uvicorn.Config(APP_FACTORY, factory=True, host=host, port=port, log_level="info", access_log=False,
                            proxy_headers=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def set_threadpool(size: int) -> None:
    """Tokens of anyio's default thread limiter (sync endpoints and the SSE generator steps run there).
    The default 40 lets a burst of streams whose steps wait for the embedder hold every token, so new
    requests could not even start; called in the app's lifespan (inside the event loop)."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = size
