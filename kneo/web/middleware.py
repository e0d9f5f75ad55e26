"""Request hooks: request id, unknown query parameters, one JSON log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from flask import Flask, Response, current_app, g, request

from kneo.config import Settings
from kneo.correlation import REQUEST_ID
from kneo.redaction import redact
from kneo.web.client_ip import client_ip
from kneo.web.error_envelope import envelope, unknown_query_parameters

log = logging.getLogger("kneo_serv.service")
_CONTEXT_PREFIXES = (("/runs/", "run_id"), ("/human-tasks/", "continuation_id"))


def register_request_hooks(app: Flask, settings: Settings) -> None:
    """Install the hooks; logging is configured by the process (gunicorn/celery), not here."""
    log_requests = settings.request_logs
    level = logging.getLevelName(settings.log_level)
    trusted_proxies = settings.trusted_proxies

    @app.before_request
    def start_request() -> Response | None:
        g.kneo_started = time.perf_counter()
        g.kneo_request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        g.kneo_request_token = REQUEST_ID.set(g.kneo_request_id)
        if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
            return envelope(
                422, {"error": "invalid_characters", "message": "NUL characters are not allowed in paths or queries."}
            )
        return None

    app.before_request(refuse_unknown_query_parameters)

    @app.teardown_request
    def forget_request_id(_exc: BaseException | None = None) -> None:
        token = g.pop("kneo_request_token", None)
        if token is not None:
            REQUEST_ID.reset(token)

    @app.after_request
    def finish_request(response: Response) -> Response:
        request_id = g.get("kneo_request_id") or str(uuid.uuid4())
        response.headers["X-Request-ID"] = request_id
        if log_requests and log.isEnabledFor(level):
            peer = client_ip(request.remote_addr or "", request.headers.get("X-Forwarded-For"), trusted_proxies)
            log.log(level, json.dumps(_log_record(response, request_id, peer), sort_keys=True))
        return response


def refuse_unknown_query_parameters() -> Response | None:
    """422 ``unknown_query_parameters`` for a query parameter the API route does not document
    (1.2 behaviour; health probes, metrics and the API documents ignore their query strings)."""
    if not request.args or (request.blueprint or "health").startswith("health"):
        return None
    view_class = getattr(current_app.view_functions.get(request.endpoint or ""), "view_class", None)
    method = getattr(view_class, request.method.lower(), None)
    if method is None:
        return None
    unknown = sorted(set(request.args) - query_parameters(method))
    return unknown_query_parameters(unknown) if unknown else None


@cache
def query_parameters(view: Callable[..., Any]) -> frozenset[str]:
    """The query parameter names a view documents with ``@blp.arguments(..., location="query")``."""
    names: set[str] = set()
    for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if parameter["in"] == "query":
            schema = parameter["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names.update(field.data_key or name for name, field in schema.fields.items())
    return frozenset(names)


def _log_record(response: Response, request_id: str, peer: str) -> dict[str, object]:
    started = g.get("kneo_started") or time.perf_counter()
    record: dict[str, object] = {
        "event": "http_request",
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status_code": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "client_ip": peer,
    }
    if request.user_agent.string:
        record["user_agent"] = request.user_agent.string
    path = request.path[3:] if request.path.startswith("/v1/") else request.path
    for prefix, name in _CONTEXT_PREFIXES:
        if path.startswith(prefix):
            record[name] = path[len(prefix) :].split("/", 1)[0]
    for name in ("run_id", "continuation_id"):
        if g.get(f"kneo_{name}"):
            record[name] = g.get(f"kneo_{name}")
    principal = g.get("kneo_principal")
    if principal is not None:
        record["principal"] = principal.name
    return redact(record)
