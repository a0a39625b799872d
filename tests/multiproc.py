"""Helpers of the multi-process tests: a real redis-server, app processes, SSE chats over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT, free_port, wait_http

REDIS_MISSING = "redis-server (Debian package redis-server) not installed"


def redis_bin() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server(port: int) -> Iterator[str]:
    """A fresh redis-server on loopback without persistence; yields redis://127.0.0.1:port/0."""
    exe = redis_bin()
    if exe is None:
        raise FileNotFoundError(REDIS_MISSING)
    work = tempfile.mkdtemp(prefix="lb-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", work, "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not answer PING")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


class App:
    """`python -m assistant serve` (or any CLI args) on a free loopback port with the given LB_ environment."""

    def __init__(self, env: dict[str, str], log: Path, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._fh = log.open("w")
        full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1",
                                      "--port", str(self.port), *args], cwd=ROOT, env=full,
                                     stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(f"{self.base}/api/health", timeout=180, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"app did not start: {log.read_text(errors='replace')[-3000:]}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._fh.close()


def chat(base: str, question: str, role: str | None = None, session_id: str | None = None,
         stop_after: str | None = None) -> dict:
    """One POST /api/chat read to `done` (or to the first event named `stop_after`): status, events, answer."""
    import httpx

    body = {"question": question, "role": role, "session_id": session_id}
    out: dict = {"status": None, "events": [], "answer": ""}
    with httpx.stream("POST", f"{base}/api/chat", json=body, timeout=120, trust_env=False) as r:
        out["status"] = r.status_code
        if r.status_code != 200:
            out["body"] = json.loads(r.read() or b"{}")
            return out
        kind = None
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                out["events"].append((kind, data))
                if kind == "meta":
                    out["session_id"], out["message_id"] = data.get("session_id"), data.get("message_id")
                elif kind == "delta":
                    out["answer"] += data["text"]
                elif kind == "done":
                    out["done"] = data
                if stop_after and kind == stop_after:
                    return out
    return out
