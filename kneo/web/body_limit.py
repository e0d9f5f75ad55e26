"""A WSGI guard for request body size, in front of everything else (auth included).

A declared Content-Length over the limit is refused at once; its body is read and discarded
up to a bound so the client can read the answer, and the connection is closed. A body sent
without Content-Length (chunked transfer), which Werkzeug would truncate silently, is read
up to ``limit + 1`` bytes: more is a 413, and never more than the limit is held in memory.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

CHUNK = 64 * 1024
DRAIN_FACTOR = 8
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodyLimit:
    """Wrap a WSGI app so a body without Content-Length may not exceed ``limit`` bytes."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        declared = _declared_length(environ)
        if declared is not None and declared > self.limit:
            if declared <= self.limit * DRAIN_FACTOR:
                _discard(environ["wsgi.input"], declared)
            return self._too_large(environ, start_response)
        if declared is not None or not _is_chunked(environ):
            return self.app(environ, start_response)
        body = _read_at_most(environ["wsgi.input"], self.limit + 1)
        if len(body) > self.limit:
            return self._too_large(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)

    def _too_large(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        detail = {
            "error": "payload_too_large",
            "message": f"Request body exceeds maximum size of {self.limit} bytes.",
            "max_body_bytes": self.limit,
        }
        payload = json.dumps({"detail": detail}).encode()
        request_id = environ.get("HTTP_X_REQUEST_ID") or str(uuid.uuid4())
        start_response(
            "413 Request Entity Too Large",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("X-Request-ID", request_id),
                ("Connection", "close"),
            ],
        )
        return [payload]


def _declared_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
    except ValueError:
        return None


def _discard(stream: Any, size: int) -> None:
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def _is_chunked(environ: dict[str, Any]) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() or bool(environ.get("wsgi.input_terminated"))


def _read_at_most(stream: Any, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
