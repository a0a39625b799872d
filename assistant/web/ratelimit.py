"""Per-client rate limits for the public endpoints, built on the `limits` library.

One limiter for the whole app, with one budget per kind of request (chat, search, new sessions,
feedback, the tutor's Gradio calls), each "n per minute" from the settings (0 disables it).
The storage is in memory by default; `LB_REDIS_URL` (``redis://...``)
shares the budgets between several server processes. The client address is never stored: the
key is a salted hash of it.

The client address is the socket peer (``scope["client"]``). Behind a reverse proxy it is the
proxy's; `create_app` then replaces it with the address named in ``X-Forwarded-For`` (uvicorn's
ProxyHeadersMiddleware) only when the peer is one of `LB_TRUSTED_PROXIES`; `lernbegleiter serve`
turns uvicorn's own proxy handling off, which would otherwise believe any loopback peer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import secrets
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings

TOO_MANY_QUESTIONS = ("Zu viele Fragen in kurzer Zeit. Bitte warten Sie {wait} Sekunden und versuchen Sie es "
                      "dann erneut.")
TOO_MANY_REQUESTS = ("Zu viele Anfragen in kurzer Zeit. Bitte warten Sie {wait} Sekunden und versuchen Sie es "
                     "dann erneut.")


@dataclass(frozen=True)
class Rule:
    """Requests with this method whose path matches `pattern` spend the budget `budget`."""
    budget: str
    method: str
    pattern: re.Pattern[str]
    message: str = TOO_MANY_REQUESTS


RULES: tuple[Rule, ...] = (
    Rule("chat", "POST", re.compile(r"/api/chat/?"), TOO_MANY_QUESTIONS),
    Rule("search", "POST", re.compile(r"/api/search/?")),
    Rule("sessions", "POST", re.compile(r"/api/sessions/?")),
    Rule("sessions", "POST", re.compile(r"/api/learning/(learners|teams)/?")),  # new learners and teams
    Rule("feedback", "POST", re.compile(r"/api/feedback/?")),
    Rule("chat", "POST", re.compile(r"/api/perspectives/?"), TOO_MANY_QUESTIONS),  # three answers per request
    Rule("search", "POST", re.compile(r"/api/(briefing|check)/?")),
    Rule("tutor", "POST", re.compile(r"/tutor(/.*)?")),  # every Gradio event (queue/join, run, call, ...)
)


def budgets_from(settings: Settings) -> dict[str, int]:
    return {"chat": settings.rate_limit_per_minute, "search": settings.rate_limit_search_per_minute,
            "sessions": settings.rate_limit_sessions_per_minute, "feedback": settings.rate_limit_feedback_per_minute,
            "tutor": settings.rate_limit_tutor_per_minute}


class RateLimits:
    """`retry_after(budget, client)`: 0 if the request may pass (and counts it), else seconds to wait."""

    def __init__(self, budgets: dict[str, int], storage_url: str | None = None) -> None:
        self.items = {name: RateLimitItemPerMinute(n) for name, n in budgets.items() if n > 0}
        self.storage = storage_from_string(storage_url) if storage_url else MemoryStorage()
        self.in_memory = isinstance(self.storage, MemoryStorage)
        self.limiter = MovingWindowRateLimiter(self.storage)
        # processes sharing a storage must derive the same key from the same address
        self.salt = (hashlib.sha256(b"lernbegleiter:" + storage_url.encode()).digest() if storage_url
                     else secrets.token_bytes(16))

    def key(self, client: str) -> str:
        return hashlib.blake2b(client.encode("utf-8", "replace"), key=self.salt[:32], digest_size=12).hexdigest()

    def _retry_after(self, budget: str, client: str) -> int:
        item = self.items.get(budget)
        if item is None:
            return 0
        key = self.key(client)
        if self.limiter.hit(item, "lb", budget, key):
            return 0
        reset = self.limiter.get_window_stats(item, "lb", budget, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    async def retry_after(self, budget: str, client: str) -> int:
        if self.in_memory:  # microseconds, thread-safe: no need to leave the event loop
            return self._retry_after(budget, client)
        return await asyncio.to_thread(self._retry_after, budget, client)


class RateLimitMiddleware:
    """Pure ASGI: counts a request against its budget before anything reads its body."""

    def __init__(self, app: ASGIApp, limits: RateLimits, rules: tuple[Rule, ...] = RULES) -> None:
        self.app = app
        self.limits = limits
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            for rule in self.rules:
                if method == rule.method and rule.pattern.fullmatch(path):
                    client = scope.get("client")
                    wait = await self.limits.retry_after(rule.budget, client[0] if client else "-")
                    if wait:
                        await send_error(send, 429, rule.message.format(wait=wait), {"retry-after": str(wait)})
                        return
                    break
        await self.app(scope, receive, send)


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A JSON error {"error": message} straight on the ASGI channel (middlewares have no Response)."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"cache-control", b"no-store")]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
