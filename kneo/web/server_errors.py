"""gunicorn's own refusals in the contract's error envelope.

gunicorn answers some requests before the application sees them (a request line or headers
too long, a malformed request, a worker failing before any response) with an HTML page;
:func:`envelope_server_errors` makes those answers ``{"detail": {"error", "message"}}`` JSON.
"""

from __future__ import annotations

import json
import socket


def error_reply(status: int, reason: str, message: str) -> bytes:
    """The raw HTTP reply of a refusal: the envelope, and the connection closed."""
    if status >= 500:
        error, message = "internal_error", "An unexpected error occurred."
    else:
        error, message = reason.lower().replace(" ", "_"), message or reason
    body = json.dumps({"detail": {"error": error, "message": message}}, ensure_ascii=True)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return (head + body).encode("latin-1")


def envelope_server_errors() -> None:
    """Have gunicorn (when it serves this process) write its refusals as the envelope."""
    try:
        from gunicorn import util
    except ImportError:
        return

    def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
        util.write_nonblock(sock, error_reply(status_int, reason, mesg))

    util.write_error = write_error
