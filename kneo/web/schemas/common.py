"""Building blocks of the documented responses: closed and open objects, paging, trace events.

Response schemas only document: views return ready ``flask.Response`` objects, which
flask-smorest passes through without dumping them.
"""

from __future__ import annotations

import copy
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields


class DocumentOnly(Schema):
    """A schema that documents an answer and never serialises one."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        raise TypeError(f"{type(self).__name__} only documents: the view must return a ready Response")


class Out(DocumentOnly):
    """A response object documented field for field (``additionalProperties: false``)."""

    class Meta:
        unknown = RAISE


class OpenOut(DocumentOnly):
    """A response object with documented keys that may carry more (``additionalProperties: true``)."""

    class Meta:
        unknown = INCLUDE


def req(field: type[fields.Field], *args: Any, **kwargs: Any) -> Any:
    """A field every answer carries."""
    return field(*args, required=True, **kwargs)


def nullable(field: type[fields.Field], *args: Any, **kwargs: Any) -> Any:
    """A field every answer carries, possibly null."""
    return field(*args, required=True, allow_none=True, **kwargs)


def strings() -> Any:
    return req(fields.List, fields.String())


def free_form() -> Any:
    """A free-form JSON object."""
    return req(fields.Dict)


def free_form_or_null() -> Any:
    return nullable(fields.Dict)


class PageSchema(Out):
    """The paging block of a listing (contract §7); ``window`` bounds what ``total`` counts."""

    count = req(fields.Integer)
    total = req(fields.Integer)
    window = req(fields.Integer)
    limit = req(fields.Integer)
    offset = req(fields.Integer)
    sort_by = req(fields.String)
    sort_order = req(fields.String)


class RunErrorSchema(OpenOut):
    """A run's error: ``{message, type}`` (more keys for some failures)."""

    message = req(fields.String)
    type = req(fields.String)


class MessageSchema(OpenOut):
    role = req(fields.String)
    content = nullable(fields.Raw)
    name = nullable(fields.String)
    tool_call_id = nullable(fields.String)
    metadata = fields.Dict()


class TraceEventSchema(Out):
    """One trace event (contract §8.9); ``metadata`` depends on the event type."""

    type = req(fields.String)
    run_id = nullable(fields.String)
    event_id = req(fields.String)
    timestamp = req(fields.String)
    parent_event_id = nullable(fields.String)
    span_id = nullable(fields.String)
    parent_span_id = nullable(fields.String)
    agent_name = nullable(fields.String)
    workflow_name = nullable(fields.String)
    step_id = nullable(fields.String)
    runtime_mode = nullable(fields.String)
    model_provider = nullable(fields.String)
    model_name = nullable(fields.String)
    tool_name = nullable(fields.String)
    guardrail_id = nullable(fields.String)
    memory_policy = nullable(fields.String)
    input_preview = nullable(fields.String)
    output_preview = nullable(fields.String)
    metadata = free_form()
    error = nullable(fields.String)


class DiagnosticSchema(Out):
    code = req(fields.String)
    severity = req(fields.String)
    message = req(fields.String)
    path = nullable(fields.String)
    suggestion = nullable(fields.String)


class HumanRequestSchema(OpenOut):
    """A pending human request (contract §9.3); escalation adds ``escalated_at``,
    ``original_expires_at`` and ``previous_assignee``."""

    id = req(fields.String)
    type = req(fields.String)
    request_type = req(fields.String)
    title = req(fields.String)
    prompt = req(fields.String)
    context = free_form()
    options = nullable(fields.List, fields.Raw())
    allow_edit = req(fields.Boolean)
    default_option = nullable(fields.String)
    response_role = nullable(fields.String)
    requested_by = nullable(fields.String)
    assignee = nullable(fields.String)
    escalation_assignee = nullable(fields.String)
    escalation_timeout_seconds = nullable(fields.Float)
    timeout_seconds = nullable(fields.Float)
    on_timeout = req(fields.String)
    metadata = free_form()
    escalated_at = fields.Float(allow_none=True)
    original_expires_at = fields.Float(allow_none=True)
    previous_assignee = fields.String(allow_none=True)


def relaxed(schema: type[Schema], name: str) -> type[Schema]:
    """``schema`` with no field required and room for more keys, named ``name``."""
    declared = {}
    for key, field in schema._declared_fields.items():
        clone = copy.copy(field)
        clone.required = False
        declared[key] = clone
    return OpenOut.from_dict(declared, name=name)
