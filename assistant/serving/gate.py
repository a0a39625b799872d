"""Admission for answer composition: at most N extractive answers are composed at once per process.

A chat's first SSE event (`meta`, after session lookup and retrieval) never waits here; every later step of
the event stream (composing the answer: sentence selection with embeddings, role part, role blocks) takes a
slot for the duration of that one step only, never while an event travels to a slow client. Without the cap,
50 concurrent streams keep ~50 threads runnable, all contending for the GIL and the encoder, and a new chat's
retrieval gets a 1/50 share of the process; with it, new chats go ahead and the composing ones run nearly
alone, so the total work is the same and each answer finishes sooner. LLM answers are not capped (their steps
wait on the network, not the CPU).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

_END = object()


class ComposeGate:
    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._sem = threading.BoundedSemaphore(slots) if slots > 0 else None

    def wrap(self, events: Iterable[Any]) -> Iterator[Any]:
        it = iter(events)
        first = next(it, _END)  # session, retrieval, decision: ungated
        if first is _END:
            return
        yield first
        if self._sem is None:
            yield from it
            return
        try:
            while True:
                with self._sem:
                    ev = next(it, _END)
                if ev is _END:
                    return
                yield ev
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # client gone: the service stores the partial answer (its finally)
                close()
