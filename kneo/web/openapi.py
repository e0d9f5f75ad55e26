"""The OpenAPI document tells the truth: API-key security schemes, the real error envelopes."""

from __future__ import annotations

import http
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
