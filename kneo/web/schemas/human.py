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
    opt,
    req,
    strings,
)


class HumanTaskSchema(Out):
    """A task (continuation record) and, once decided, its resolution."""

    id = req(fields.String)
    run_id = req(fields.String)
    status = req(fields.String)
    workflow_name = opt(fields.String)
    workflow_kind = opt(fields.String)
    current_step_index = opt(fields.Integer)
    current_node_id = opt(fields.String)
    current_input = opt(fields.String)
    visited_steps = strings()
    visited_nodes = strings()
    messages = req(fields.List, fields.Nested(MessageSchema))
    variables = free_form()
    trace_events = req(fields.List, fields.Nested(TraceEventSchema))
    pending_human_request_id = opt(fields.String)
    pending_human_request = opt(fields.Nested, HumanRequestSchema)
    expires_at = opt(fields.Float)
    escalated_at = opt(fields.Float)
    original_expires_at = opt(fields.Float)
    assignee = opt(fields.String)
    decision = opt(fields.String)
    reviewer = opt(fields.String)
    decision_metadata = opt(fields.Dict)
    resolved_at = opt(fields.String)
    metadata = free_form()
    created_at = opt(fields.String)
    updated_at = opt(fields.String)


class HumanTaskListResponseSchema(PageSchema):
    tasks = req(fields.List, fields.Nested(HumanTaskSchema))


class HumanTaskResponseSchema(Out):
    """An open task: its pending request, the conversation so far, and the whole task."""

    continuation_id = req(fields.String)
    request = opt(fields.Nested, HumanRequestSchema)
    messages = req(fields.List, fields.Nested(MessageSchema))
    task = req(fields.Nested, HumanTaskSchema)
