"""Marshmallow schemas: request bodies and query strings (limits of contract §5) here, documented
responses by resource in the submodules."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from kneo.environments import resolve_environment
from kneo.models.run import MAX_SESSION_ID_CHARS
from kneo.web.auth import current_principal
from kneo.web.request_scope import settings


class Bounded(validate.Validator):
    """An inclusive range whose error names the bound that was broken (the 422 ``type``)."""

    def __init__(self, low: int, high: int | None = None) -> None:
        self.low, self.high = low, high

    def __call__(self, value: int) -> int:
        if value < self.low:
            raise ValidationError(f"Input should be greater than or equal to {self.low}")
        if self.high is not None and value > self.high:
            raise ValidationError(f"Input should be less than or equal to {self.high}")
        return value


def _limits() -> Any:
    return current_app.extensions["kneo.settings"].limits


def _serialized_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


# NUL, and lone surrogates (``"\\ud800"`` is valid JSON but no UTF-8 text can hold it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable(value: Any) -> bool:
    """True when a string anywhere in ``value`` (keys included) holds NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StrictSchema(Schema):
    """Unknown fields are rejected, and so are characters no database text can store."""

    class Meta:
        unknown = RAISE

    @pre_load
    def refuse_unstorable(self, data: Any, **_: Any) -> Any:
        if _has_unstorable(data if isinstance(data, dict) else {}):
            raise ValidationError("Value error, NUL characters and lone surrogates are not allowed.")
        return data


class SpecSourceSchema(StrictSchema):
    """Where a spec comes from, with the size limits of contract §5."""

    spec_path = fields.String(load_default=None, allow_none=True)
    spec = fields.Dict(load_default=None, allow_none=True)

    @validates_schema
    def check_limits(self, data: dict[str, Any], **_: Any) -> None:
        limits = _limits()
        errors: dict[str, list[str]] = {}

        def fail(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        if len(data.get("input") or "") > limits.max_input_chars:
            fail("input", f"Value error, input exceeds maximum length of {limits.max_input_chars} characters.")
        for name in ("spec_path", "environment"):
            if data.get(name) and len(data[name]) > limits.max_path_chars:
                fail(name, f"Value error, {name} exceeds maximum length of {limits.max_path_chars} characters.")
        overlays = data.get("overlays") or []
        if len(overlays) > limits.max_list_items:
            fail("overlays", f"Value error, overlays exceeds maximum item count of {limits.max_list_items}.")
        if any(len(o) > limits.max_path_chars for o in overlays):
            fail("overlays", "Value error, overlay path exceeds maximum length.")
        for name, limit in (
            ("spec", limits.max_inline_spec_bytes),
            ("overrides", limits.max_overrides_bytes),
            ("metadata", limits.max_metadata_bytes),
        ):
            if data.get(name) is not None and _serialized_size(data[name]) > limit:
                fail(name, f"Value error, {name} exceeds maximum serialized size of {limit} bytes.")
        if errors:
            raise ValidationError(errors)


class SpecRequestSchema(SpecSourceSchema):
    environment = fields.String(load_default=None, allow_none=True)
    overlays = fields.List(fields.String(), load_default=list)
    overrides = fields.Dict(load_default=dict)

    @post_load
    def bind_environment(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The environment in its canonical spelling, the key's binding and the deployment default applied."""
        bound = current_principal().environments
        data["environment"] = resolve_environment(data.get("environment"), bound, settings().default_environment)
        return data


class RunCreateSchema(SpecRequestSchema):
    input = fields.String(required=True)
    target = fields.String(load_default="workflow", validate=validate.OneOf(["agent", "workflow"]))
    async_mode = fields.Boolean(load_default=False)
    metadata = fields.Dict(load_default=dict)
    timeout_seconds = fields.Integer(load_default=None, allow_none=True, validate=Bounded(1))
    session_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_SESSION_ID_CHARS))

    @validates_schema
    def check_timeout(self, data: dict[str, Any], **_: Any) -> None:
        cap = current_app.extensions["kneo.settings"].spec_bounds.max_timeout_seconds
        if (data.get("timeout_seconds") or 0) > cap:
            raise ValidationError({"timeout_seconds": [f"Input should be less than or equal to {cap}"]})


class HumanResumeSchema(StrictSchema):
    request_id = fields.String(required=True)
    decision = fields.String(
        required=True, validate=validate.OneOf(["approved", "rejected", "edited", "selected", "provided"])
    )
    content = fields.String(load_default=None, allow_none=True)
    selected_option = fields.String(load_default=None, allow_none=True)
    metadata = fields.Dict(load_default=dict)

    @validates_schema
    def check_limits(self, data: dict[str, Any], **_: Any) -> None:
        limits = _limits()
        errors: dict[str, list[str]] = {}
        if data.get("content") and len(data["content"]) > limits.max_human_content_chars:
            errors["content"] = [
                f"Value error, content exceeds maximum length of {limits.max_human_content_chars} characters."
            ]
        for name in ("request_id", "selected_option"):
            if data.get(name) and len(data[name]) > limits.max_path_chars:
                errors[name] = ["Value error, human task field exceeds maximum length."]
        if _serialized_size(data.get("metadata") or {}) > limits.max_metadata_bytes:
            errors["metadata"] = [
                f"Value error, metadata exceeds maximum serialized size of {limits.max_metadata_bytes} bytes."
            ]
        if errors:
            raise ValidationError(errors)


class PageQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=100, validate=Bounded(1, 1000))
    offset = fields.Integer(load_default=0, validate=Bounded(0, 10000))
    sort_order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class RunListQuerySchema(PageQuerySchema):
    """The run filters of 1.2; ``created_after``/``created_before`` are ISO-8601 timestamps."""

    status = fields.String(load_default=None)
    workflow_kind = fields.String(load_default=None)
    workflow_name = fields.String(load_default=None)
    session_id = fields.String(load_default=None)
    has_error = fields.Boolean(load_default=None, allow_none=True)
    created_after = fields.String(load_default=None)
    created_before = fields.String(load_default=None)
    q = fields.String(load_default=None)
    sort_by = fields.String(load_default="updated_at")


class CheckpointQuerySchema(PageQuerySchema):
    type = fields.String(load_default=None)
    sort_by = fields.String(load_default="sequence")
    sort_order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class TraceQuerySchema(PageQuerySchema):
    event_type = fields.String(load_default=None)
    sort_by = fields.String(load_default="timestamp")
    sort_order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class DiffQuerySchema(StrictSchema):
    from_sequence = fields.Integer(load_default=None, validate=Bounded(1))
    to_sequence = fields.Integer(load_default=None, validate=Bounded(1))


class HumanTaskQuerySchema(PageQuerySchema):
    run_id = fields.String(load_default=None)
    workflow_kind = fields.String(load_default=None)
    status = fields.String(load_default="pending")
    assignee = fields.String(load_default=None)
    escalated = fields.Boolean(load_default=None, allow_none=True)
    sort_by = fields.String(load_default="id")
    sort_order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class AuditQuerySchema(StrictSchema):
    event_type = fields.String(load_default=None)
    run_id = fields.String(load_default=None)
    actor = fields.String(load_default=None)
    sort_by = fields.String(load_default="created_at")
    include_hashes = fields.Boolean(load_default=False)
    sort_order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))
    limit = fields.Integer(load_default=100, validate=Bounded(1, 1000))
    offset = fields.Integer(load_default=0, validate=Bounded(0, 10000))


class AnyObjectSchema(Schema):
    """A free-form JSON object response (documented as such)."""

    class Meta:
        unknown = RAISE
