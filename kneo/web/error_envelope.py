"""One error envelope for everything: ``{"detail": {...}}`` (contract §2)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from kneo import specs
from kneo.errors import KneoError
from kneo.redaction import redact

log = logging.getLogger("kneo_serv.service")

_MARSHMALLOW_TYPES = (
    ("JSON decode error", "json_invalid", "JSON decode error"),
    ("Missing data for required field", "missing", "Field required"),
    ("Unknown field", "extra_forbidden", "Extra inputs are not permitted"),
    ("Not a valid string", "string_type", "Input should be a valid string"),
    ("Not a valid integer", "int_parsing", "Input should be a valid integer"),
    ("Not a valid boolean", "bool_parsing", "Input should be a valid boolean"),
    ("Not a valid mapping", "dict_type", "Input should be a valid dictionary"),
    ("Not a valid list", "list_type", "Input should be a valid list"),
    ("Must be one of", "literal_error", None),
    ("Field may not be null", "none_forbidden", "Input should not be None"),
    ("Invalid input type", "model_attributes_type", "Input should be a valid dictionary or object"),
    ("greater than or equal", "greater_than_equal", None),
    ("less than or equal", "less_than_equal", None),
    ("Longer than maximum length", "string_too_long", None),
)
LOCATIONS = {"json": "body", "query": "query", "view_args": "path", "headers": "header"}


def envelope(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"detail": detail})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _classify(message: str) -> tuple[str, str]:
    for needle, type_, msg in _MARSHMALLOW_TYPES:
        if needle in message:
            return type_, msg or message
    return "value_error", message


def _walk(messages: Any, loc: list[Any], out: list[dict[str, Any]]) -> None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            _walk(value, loc if key == "_schema" else [*loc, key], out)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            type_, msg = _classify(message)
            out.append({"type": type_, "loc": loc, "msg": msg, "input": None})
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            _walk(value, [*loc, index], out)
    elif isinstance(messages, str):
        type_, msg = _classify(messages)
        out.append({"type": type_, "loc": loc, "msg": msg, "input": None})


def validation_details(messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Marshmallow messages → the contract's list of ``{type, loc, msg, input}``."""
    out: list[dict[str, Any]] = []
    for location, inner in messages.items():
        _walk(inner, [LOCATIONS.get(location, location)], out)
    return out


def unknown_query_parameters(names: list[str]) -> Response:
    """The 422 for query parameters a route does not know (the 1.2 dashboards degrade on it)."""
    return envelope(
        422,
        {
            "error": "unknown_query_parameters",
            "message": f"Unrecognized query parameter(s): {', '.join(names)}.",
            "unknown": names,
            "parameters": names,
        },
    )


def handle_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        from kneo.web.request_scope import settings

        limit = settings().limits.max_body_bytes
        return envelope(
            413,
            {
                "error": "payload_too_large",
                "message": f"Request body exceeds maximum size of {limit} bytes.",
                "max_body_bytes": limit,
            },
        )
    data = getattr(exc, "data", None) or {}
    if exc.code == 422 and "messages" in data:
        return envelope(422, validation_details(data["messages"]))
    if exc.code == 404:
        return envelope(404, "Not Found")
    if exc.code == 405:
        response = envelope(405, "Method Not Allowed")
        allowed = exc.get_response().headers.get("Allow")
        if allowed:
            response.headers["Allow"] = allowed
        return response
    return envelope(
        exc.code or 500,
        {"error": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description or exc.name},
    )


def handle_kneo_error(exc: KneoError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return envelope(exc.status, redact(exc.to_detail()), headers)


def handle_spec_error(exc: specs.SpecError) -> Response:
    detail: dict[str, Any] = {"error": exc.code, "message": exc.message}
    diagnostics = getattr(exc, "diagnostics", None)
    if diagnostics:
        detail["diagnostics"] = [d.to_dict() for d in diagnostics]
    status = 404 if exc.code == "spec_not_found" else 422
    if exc.code in ("spec_missing", "invalid_request"):
        status = 400
    return envelope(status, redact(detail))


def handle_database_error(exc: DBAPIError) -> Response:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return envelope(
            503,
            {"error": "database_unavailable", "message": "The database is unavailable; retry shortly."},
            {"Retry-After": "2"},
        )
    return handle_unexpected(exc)


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return envelope(500, {"error": "internal_error", "message": "An unexpected error occurred."})


def register_error_handlers(app: Flask) -> None:
    """Install the envelope handlers (after flask-smorest, so ours win)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(KneoError, handle_kneo_error)
    app.register_error_handler(specs.SpecError, handle_spec_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
