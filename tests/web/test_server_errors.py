"""gunicorn's refusals as the error envelope (the bytes it writes on the socket)."""

from __future__ import annotations

import json

from kneo.web.server_errors import error_reply


def parse(raw: bytes) -> tuple[str, dict[str, str], dict[str, object]]:
    head, body = raw.decode("latin-1").split("\r\n\r\n", 1)
    status, *lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return status, headers, json.loads(body)


def test_a_refusal_is_the_envelope() -> None:
    status, headers, body = parse(error_reply(414, "URI Too Long", "Request Line is too large (4275 > 4094)"))
    assert status == "HTTP/1.1 414 URI Too Long"
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert body == {"detail": {"error": "uri_too_long", "message": "Request Line is too large (4275 > 4094)"}}


def test_a_server_failure_says_nothing_of_its_cause() -> None:
    _, _, body = parse(error_reply(500, "Internal Server Error", "Traceback: secret"))
    assert body == {"detail": {"error": "internal_error", "message": "An unexpected error occurred."}}


def test_non_ascii_messages_stay_within_latin_1() -> None:
    _, _, body = parse(error_reply(400, "Bad Request", "Invalid header name 'nämé'"))
    assert body["detail"] == {"error": "bad_request", "message": "Invalid header name 'nämé'"}
