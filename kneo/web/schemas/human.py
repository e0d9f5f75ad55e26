"""Human-task responses (contract §1.9, §9.2)."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import (
    HumanRequestSchema,
    MessageSchema,
    Out,
    PageSchema,
    TraceEventSchema,
    free_form,
    nullable,
    req,
    strings,
)


class HumanTaskSchema(Out):
    """A task (continuation record) and, once decided, its resolution."""

    id = req(fields.String)
    run_id = req(fields.String)
    status = req(fields.String)
    workflow_name = nullable(fields.String)
    workflow_kind = nullable(fields.String)
    current_step_index = nullable(fields.Integer)
    current_node_id = nullable(fields.String)
    current_input = nullable(fields.String)
    visited_steps = strings()
    visited_nodes = strings()
    messages = req(fields.List, fields.Nested(MessageSchema))
    variables = free_form()
    trace_events = req(fields.List, fields.Nested(TraceEventSchema))
    pending_human_request_id = nullable(fields.String)
    pending_human_request = nullable(fields.Nested, HumanRequestSchema)
    expires_at = nullable(fields.Float)
    escalated_at = nullable(fields.Float)
    original_expires_at = nullable(fields.Float)
    assignee = nullable(fields.String)
    decision = nullable(fields.String)
    reviewer = nullable(fields.String)
    decision_metadata = nullable(fields.Dict)
    resolved_at = nullable(fields.String)
    metadata = free_form()
    created_at = nullable(fields.String)
    updated_at = nullable(fields.String)


class HumanTaskListResponseSchema(PageSchema):
    tasks = req(fields.List, fields.Nested(HumanTaskSchema))


class HumanTaskResponseSchema(Out):
    """An open task: its pending request, the conversation so far, and the whole task."""

    continuation_id = req(fields.String)
    request = nullable(fields.Nested, HumanRequestSchema)
    messages = req(fields.List, fields.Nested(MessageSchema))
    task = req(fields.Nested, HumanTaskSchema)
