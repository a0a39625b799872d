"""The tutor serves several users at once: its Gradio queue runs `tutor_concurrency` chats in parallel
(Gradio's default would be one at a time per event). Real uvicorn, real Gradio queue, real client."""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import free_port, wait_http


class BarrierService:
    """A chat service whose answers only finish once `parties` chats are running at the same time."""

    store = None

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=20)
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def chat(self, question, role=None, filters=None, session_id=None):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            yield {"event": "meta", "data": {"session_id": None, "message_id": "m"}}
            try:
                self.barrier.wait()
                text = "Beide Fragen wurden gleichzeitig beantwortet."
            except threading.BrokenBarrierError:
                text = "Nacheinander."
            yield {"event": "delta", "data": {"text": text}}
            yield {"event": "done", "data": {}}
        finally:
            with self.lock:
                self.running -= 1


def _serve(svc, concurrency: int):
    import uvicorn
    from fastapi import FastAPI

    from ui.tutor import mount_tutor

    app = mount_tutor(FastAPI(), lambda: svc, concurrency=concurrency)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/tutor/config", timeout=60)
    return server, thread, f"http://127.0.0.1:{port}/tutor/"


def _two_chats(url: str) -> list[str]:
    from gradio_client import Client

    clients = [Client(url, verbose=False), Client(url, verbose=False)]  # two users, two sessions
    jobs = [c.submit("Frage?", "", api_name="/ask") for c in clients]
    answers = []
    for job in jobs:
        result = job.result(timeout=60)
        chat = result[0]
        answers.append(str(chat[-1]["content"]))
    return answers


def test_two_tutor_users_are_answered_at_the_same_time():
    svc = BarrierService(parties=2)
    server, thread, url = _serve(svc, concurrency=4)
    try:
        answers = _two_chats(url)
    finally:
        server.should_exit = True
        thread.join(10)
    assert svc.peak == 2
    assert all("gleichzeitig" in a for a in answers), answers


@pytest.mark.parametrize("limit", [1])
def test_with_a_limit_of_one_they_wait_for_each_other(limit):
    """The same check fails with concurrency 1: the test above really measures the setting."""
    svc = BarrierService(parties=2)
    svc.barrier = threading.Barrier(2, timeout=3)
    server, thread, url = _serve(svc, concurrency=limit)
    try:
        started = time.monotonic()
        answers = _two_chats(url)
    finally:
        server.should_exit = True
        thread.join(10)
    assert svc.peak == 1 and all("Nacheinander" in a for a in answers), answers
    assert time.monotonic() - started >= 3


def test_settings_default_and_app_wiring(tmp_path):
    from assistant.settings import Settings
    from assistant.web.api import create_app

    assert Settings().tutor_concurrency == 16
    app = create_app(Settings(data_dir=tmp_path / "data", tutor_concurrency=3))  # LB_TUTOR_CONCURRENCY=3
    tutor = next(r for r in app.routes if getattr(r, "path", "") == "/tutor")
    assert tutor.app.get_blocks()._queue.default_concurrency_limit == 3
    assert Settings(tutor_concurrency=3).tutor_concurrency == 3
    with pytest.raises(Exception):
        Settings(tutor_concurrency=0)
