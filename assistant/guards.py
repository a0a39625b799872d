"""Pure ASGI guards in front of the app: request size and shape, uploads, and a last-resort error handler.

- `BodyGuard`: a request body larger than the limit is refused with 413 (counted as it streams in,
  not only from Content-Length); a body under /api must be UTF-8 JSON (415 otherwise), not nested
  deeper than `MAX_DEPTH`, without NaN or Infinity; Gradio's upload routes under /tutor are closed
  (the tutor has no file inputs). The body is read once and handed on unchanged.
- `ErrorGuard`: an exception that escapes the app becomes a German 500 and a log line with the
  exception's type and where it was raised: never its message, which may carry question text,
  session ids or SQL parameters. Starlette's own error middleware would re-raise it to the server,
  which logs the whole message.

Every error is JSON ``{"error": "<German sentence>"}`` and never repeats what the client sent.
"""

from __future__ import annotations

import json
import logging
import math
import re
import traceback
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .web.ratelimit import send_error

log = logging.getLogger("lernbegleiter")

MAX_DEPTH = 16  # our bodies nest 3 deep
OTHER_MAX_BODY_BYTES = 1024 * 1024  # the tutor's Gradio calls carry the chat history

TOO_LARGE = "Die Anfrage ist zu groß (höchstens {kb} KB)."
NOT_JSON_TYPE = "Bitte senden Sie die Anfrage als JSON (Content-Type: application/json)."
NOT_UTF8 = "Der Anfragetext ist kein gültiges UTF-8."
TOO_DEEP = "Der Anfragetext ist zu tief verschachtelt."
NOT_FINITE = "Der Anfragetext enthält ungültige Zahlen (NaN oder unendlich)."
NOT_JSON = "Der Anfragetext ist kein gültiges JSON."
NO_UPLOADS = "Das Hochladen von Dateien ist hier nicht möglich."
INTERNAL = "Es ist ein interner Fehler aufgetreten. Bitte versuchen Sie es später erneut."

UPLOAD_PATHS = re.compile(r"/tutor(/gradio_api)?/(upload|process_recording)/?")


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log that `what` failed: exception types (with causes) and the innermost frames, no message."""
    kinds, seen, e = [], set(), exc
    while e is not None and id(e) not in seen and len(kinds) < 4:
        seen.add(id(e))
        kinds.append(f"{type(e).__module__}.{type(e).__qualname__}")
        e = e.__cause__ or e.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)) or "?"
    logger.error("%s: %s at %s", what, " caused by ".join(kinds), where)


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _NotFinite
    return x


def _constant(_: str) -> Any:
    raise _NotFinite


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > limit:
                return True
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def check_json(body: bytes) -> tuple[int, str] | None:
    """None if the body is acceptable JSON for the API, else (status, German message)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, NOT_UTF8
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_constant)
    except _NotFinite:
        return 422, NOT_FINITE
    except RecursionError:
        return 400, TOO_DEEP
    except ValueError:  # JSONDecodeError, and integers longer than Python converts
        return 422, NOT_JSON
    if _too_deep(value):
        return 400, TOO_DEEP
    return None


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


class BodyGuard:
    def __init__(self, app: ASGIApp, api_max_bytes: int, other_max_bytes: int = OTHER_MAX_BODY_BYTES) -> None:
        self.app = app
        self.api_max_bytes = api_max_bytes
        self.other_max_bytes = other_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if UPLOAD_PATHS.fullmatch(path):
            await send_error(send, 403, NO_UPLOADS)
            return
        api = path.startswith("/api/")
        limit = self.api_max_bytes if api else self.other_max_bytes
        headers = dict(scope["headers"])  # later duplicates win; h11 rejects conflicting Content-Length
        declared = headers.get(b"content-length")
        chunked = b"transfer-encoding" in headers
        try:
            length = int(declared) if declared is not None else None
        except ValueError:
            length = None
        if length is not None and length > limit:
            await send_error(send, 413, TOO_LARGE.format(kb=limit // 1024))
            return
        if not chunked and not length:  # no body: nothing to check or buffer (GET, SSE, DELETE)
            await self.app(scope, receive, send)
            return
        if api and not _is_json(headers.get(b"content-type", b"").decode("latin-1")):
            await send_error(send, 415, NOT_JSON_TYPE)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, 413, TOO_LARGE.format(kb=limit // 1024))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if api and body:
            problem = check_json(body)
            if problem:
                await send_error(send, *problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then http.disconnect, which SSE responses listen for

        await self.app(scope, replay, send)


class ErrorGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last resort: type and place only
            log_failure(log, f"{scope.get('method')} request failed", exc)
            if not started:
                await send_error(send, 500, INTERNAL)
