"""The OpenAPI document tells the truth: API-key security schemes, the real error envelopes."""

from __future__ import annotations

import http
from collections.abc import Iterator
from typing import Any

import flask_smorest
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

SECURITY: list[dict[str, list[str]]] = [{"BearerAuth": []}, {"ApiKeyHeader": []}]


class ErrorDetailSchema(Schema):
    """``detail`` of a service error: a stable code, a message, and extra keys per error."""

    class Meta:
        unknown = "include"

    error = fields.String(required=True)
    message = fields.String(required=True)


class ErrorEnvelopeSchema(Schema):
    detail = fields.Nested(ErrorDetailSchema, required=True)


VALIDATION_ITEM = {
    "type": "object",
    "required": ["type", "loc", "msg"],
    "properties": {
        "type": {"type": "string"},
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "input": {},
    },
}
ERROR_DETAIL = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "additionalProperties": True,
}
ENVELOPE = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [ERROR_DETAIL, {"type": "array", "items": VALIDATION_ITEM}, {"type": "string"}],
        }
    },
}


class Api(flask_smorest.Api):
    """flask-smorest's Api with the contract's error envelope and API-key security schemes."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {"application/json": {"schema": ENVELOPE}}
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, Any] = {
            "description": "Error in the contract's envelope",
            "content": {"application/json": {"schema": ENVELOPE}},
        }
        prepare_response(default, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def register_security(self) -> None:
        """Declare the two ways to present a key (contract §3.1)."""
        self.spec.components.security_scheme("BearerAuth", {"type": "http", "scheme": "bearer"})
        self.spec.components.security_scheme(
            "ApiKeyHeader", {"type": "apiKey", "in": "header", "name": "X-Kneo-Api-Key"}
        )


def scope_doc(scope: str) -> dict[str, Any]:
    """The documentation of an operation that needs ``scope``."""
    responses = {
        "401": "UNAUTHORIZED",
        "403": "FORBIDDEN",
        "413": "REQUEST_ENTITY_TOO_LARGE",
        "503": "SERVICE_UNAVAILABLE",
    }
    return {"security": SECURITY, "x-required-scope": scope, "responses": responses}


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
# Health probes live at the root (load balancers call them there); every other resource under /v1.
ROOT_FIRST = frozenset({"health"})


def _operations(path_item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The operation objects of one path item (not its shared ``parameters``)."""
    return (op for method, op in path_item.items() if method in HTTP_METHODS and isinstance(op, dict))


def _split(path: str, prefixes: tuple[str, ...]) -> tuple[str, str]:
    """``("/v1", "/runs")`` for ``/v1/runs``; ``("", "/runs")`` for ``/runs``."""
    prefix = next((p for p in prefixes if p and path.startswith(p + "/")), "")
    return prefix, path[len(prefix) :]


def unify_versions(api: Api, prefixes: tuple[str, ...], blueprints: dict[str, str]) -> None:
    """One tag per resource; the primary route of each operation once, its other prefix deprecated.

    ``blueprints`` maps each registered name (``runs``, ``runs_v1``) to its resource (``runs``).
    Every operation gets a description: its summary, the scope it needs, and for an alias the
    route to prefer.
    """
    versioned = next(p for p in prefixes if p)
    for path, path_item in api.spec._paths.items():
        operations = list(_operations(path_item))
        for operation in operations:
            operation["tags"] = [blueprints.get(tag, tag) for tag in operation.get("tags", [])]
        resource = next((tag for op in operations for tag in op["tags"]), "")
        prefix, bare = _split(path, prefixes)
        primary = "" if resource in ROOT_FIRST else versioned
        for operation in operations:
            _describe(operation, alias_of=None if prefix == primary else primary + bare)
    unique = {blueprints.get(t["name"], t["name"]): t for t in api.spec._tags}
    api.spec._tags[:] = [{**tag, "name": name} for name, tag in unique.items()]


def _describe(operation: dict[str, Any], alias_of: str | None) -> None:
    parts = [operation.get("description") or operation.get("summary") or ""]
    scope = operation.get("x-required-scope")
    parts.append(f"Needs an API key with the `{scope}` scope (when auth is on)." if scope else "Needs no API key.")
    if alias_of:
        operation["deprecated"] = True
        parts.append(f"Alias of `{alias_of}`, kept for older clients; new clients use `{alias_of}`.")
    operation["description"] = " ".join(p for p in parts if p)
