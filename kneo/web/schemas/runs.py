"""Run responses (contract §1.3-§1.6, §8.1): create results, status, stored state, listings."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import (
    HumanRequestSchema,
    MessageSchema,
    OpenOut,
    Out,
    PageSchema,
    RunErrorSchema,
    TraceEventSchema,
    free_form_or_null,
    nullable,
    req,
    strings,
)


class SettledTraceSchema(OpenOut):
    """The trace settled with a run: its events, and how many were left out."""

    run_id = fields.String(allow_none=True)
    events = fields.List(fields.Nested(TraceEventSchema))
    dropped = fields.Integer()


class ResultWorkflowSchema(OpenOut):
    name = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    visited_steps = fields.List(fields.String())
    visited_nodes = fields.List(fields.String())
    pending_step_id = fields.String(allow_none=True)
    termination = fields.String(allow_none=True)


class ResultMetadataSchema(OpenOut):
    """What a settled execution adds to a run's metadata (keys appear as the run reached them)."""

    sdk = fields.String()
    iterations = fields.Integer()
    duration_ms = fields.Float()
    trace = fields.Nested(SettledTraceSchema)
    runtime_mode = fields.String(allow_none=True)
    runtime_name = fields.String(allow_none=True)
    agent_name = fields.String(allow_none=True)
    workflow = fields.Nested(ResultWorkflowSchema)
    workflow_description = fields.String(allow_none=True)
    workflow_type = fields.String(allow_none=True)
    workflow_steps = fields.List(fields.String())
    variables = fields.Dict()
    human_intervention_required = fields.Boolean()
    continuation_id = fields.String(allow_none=True)
    request = fields.Nested(HumanRequestSchema, allow_none=True)
    pending_step_id = fields.String(allow_none=True)


class FrozenSpecSchema(Out):
    base = free_form_or_null()
    overlays = req(fields.List, fields.Raw())


class RunMetadataSchema(ResultMetadataSchema):
    """A run's metadata: the creation keys, then what execution recorded (free-form beyond these)."""

    spec_path = fields.String(allow_none=True)
    spec = fields.Dict(allow_none=True)
    frozen_spec = fields.Nested(FrozenSpecSchema)
    target = fields.String()
    environment = fields.String(allow_none=True)
    overrides = fields.Dict()
    overlays = fields.List(fields.Raw())
    skills_overlay = fields.Raw(allow_none=True)
    timeout_seconds = fields.Integer(allow_none=True)
    request_metadata = fields.Dict()
    caller_metadata = fields.Dict()
    step_iteration_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    execution_context = fields.Dict()


class RunFieldsSchema(Out):
    """What a run's status and its stored state share."""

    status = req(fields.String)
    agent_name = nullable(fields.String)
    workflow_name = nullable(fields.String)
    workflow_kind = nullable(fields.String)
    input_text = nullable(fields.String)
    output_text = nullable(fields.String)
    current_step_index = nullable(fields.Integer)
    current_node_id = nullable(fields.String)
    visited_steps = strings()
    visited_nodes = strings()
    pending_human_request = nullable(fields.Nested, HumanRequestSchema)
    continuation_id = nullable(fields.String)
    metadata = req(fields.Nested, RunMetadataSchema)
    error = nullable(fields.Nested, RunErrorSchema)
    session_id = nullable(fields.String)
    usage = nullable(fields.Dict)
    trace_event_count = req(fields.Integer)


class RunStatusResponseSchema(RunFieldsSchema):
    """``GET /runs/{id}`` and ``POST /runs/{id}/cancel``."""

    run_id = req(fields.String)


class RunStateSchema(RunFieldsSchema):
    """The stored run (contract §8.1): list items; ``trace_events`` are those settled with it."""

    id = req(fields.String)
    current_step_id = nullable(fields.String)
    messages = req(fields.List, fields.Nested(MessageSchema))
    trace_events = req(fields.List, fields.Nested(TraceEventSchema))
    trace_dropped = req(fields.Integer)
    parent_run_id = nullable(fields.String)
    tags = strings()
    created_at = nullable(fields.String)
    updated_at = nullable(fields.String)
    started_at = nullable(fields.String)
    completed_at = nullable(fields.String)
    deadline_at = nullable(fields.Float)


class RunListResponseSchema(PageSchema):
    runs = req(fields.List, fields.Nested(RunStateSchema))


class RunCreateResponseSchema(Out):
    """A created (or continued) run: the settled result when synchronous, the creation state when
    ``async_mode`` (202). Idempotent replays answer with the stored copy of this body."""

    run_id = req(fields.String)
    status = req(fields.String)
    output_text = nullable(fields.String)
    human_intervention_required = req(fields.Boolean)
    continuation_id = nullable(fields.String)
    metadata = req(fields.Nested, RunMetadataSchema)
    error = nullable(fields.Nested, RunErrorSchema)


class ResumeMetadataSchema(RunMetadataSchema):
    resumed_from_continuation_id = req(fields.String)


class HumanResumeResponseSchema(Out):
    """The run after a human decision; ``metadata`` names the continuation it resumed."""

    run_id = req(fields.String)
    status = req(fields.String)
    output_text = nullable(fields.String)
    continuation_id = nullable(fields.String)
    human_intervention_required = req(fields.Boolean)
    metadata = req(fields.Nested, ResumeMetadataSchema)
