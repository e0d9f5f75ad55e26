"""Run sub-resource responses (contract §1.7, §8.5-§8.7): trace, checkpoints, diff, replay,
recovery, and the run's workflow graph."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import (
    HumanRequestSchema,
    Out,
    PageSchema,
    RunErrorSchema,
    TraceEventSchema,
    free_form,
    nullable,
    relaxed,
    req,
    strings,
)
from kneo.web.schemas.runs import RunStateSchema


class TraceResponseSchema(PageSchema):
    run_id = req(fields.String)
    events = req(fields.List, fields.Nested(TraceEventSchema))
    dropped = req(fields.Integer)
    complete = req(fields.Boolean)


class CheckpointSummarySchema(Out):
    id = req(fields.String)
    sequence = req(fields.Integer)
    type = req(fields.String)
    created_at = nullable(fields.String)
    workflow_name = nullable(fields.String)
    step_id = nullable(fields.String)
    node_id = nullable(fields.String)


CheckpointStateSchema = relaxed(RunStateSchema, "CheckpointStateSchema")
"""The run as it stood at the checkpoint (snapshots written by older versions may lack fields)."""


class CheckpointSchema(CheckpointSummarySchema):
    """A checkpoint (contract §8.5); ``metadata`` depends on its type."""

    run_id = req(fields.String)
    iteration = req(fields.Integer)
    state = req(fields.Nested, CheckpointStateSchema)
    trace_events = req(fields.List, fields.Nested(TraceEventSchema))
    metadata = free_form()


class CheckpointListResponseSchema(PageSchema):
    run_id = req(fields.String)
    checkpoints = req(fields.List, fields.Nested(CheckpointSchema))


class DiffAddedSchema(Out):
    path = req(fields.String)
    value = req(fields.Raw)


class DiffChangedSchema(Out):
    path = req(fields.String)
    before = req(fields.Raw)
    after = req(fields.Raw)


class CheckpointDiffResponseSchema(Out):
    """Paths of ``{state, metadata}`` added, removed and changed between two checkpoints."""

    run_id = req(fields.String)
    from_checkpoint = req(fields.Nested, CheckpointSummarySchema)
    to_checkpoint = req(fields.Nested, CheckpointSummarySchema)
    change_count = req(fields.Integer)
    added = req(fields.List, fields.Nested(DiffAddedSchema))
    removed = req(fields.List, fields.Nested(DiffAddedSchema))
    changed = req(fields.List, fields.Nested(DiffChangedSchema))
    truncated = req(fields.Boolean)


class ReplayContextSchema(Out):
    run_id = req(fields.String)
    status = req(fields.String)
    workflow_type = nullable(fields.String)
    completed_steps = req(fields.List, fields.String(allow_none=True))
    completed_nodes = req(fields.List, fields.String(allow_none=True))
    failed_step = nullable(fields.String)
    failed_node = nullable(fields.String)
    next_step_index = req(fields.Integer)
    resume_input = nullable(fields.String)
    checkpoint_count = req(fields.Integer)
    can_continue = req(fields.Boolean)
    can_replay = req(fields.Boolean)


class TimelineItemSchema(CheckpointSummarySchema):
    status = nullable(fields.String)
    current_step_index = nullable(fields.Integer)
    current_step_id = nullable(fields.String)
    current_node_id = nullable(fields.String)
    continuation_id = nullable(fields.String)
    pending_human_request_id = nullable(fields.String)
    error = nullable(fields.Nested, RunErrorSchema)


class RunReplayResponseSchema(Out):
    run_id = req(fields.String)
    status = req(fields.String)
    workflow_name = nullable(fields.String)
    workflow_kind = nullable(fields.String)
    agent_name = nullable(fields.String)
    checkpoint_count = req(fields.Integer)
    timeline = req(fields.List, fields.Nested(TimelineItemSchema))
    replay_context = req(fields.Nested, ReplayContextSchema)


class RunRecoveryResponseSchema(Out):
    run_id = req(fields.String)
    status = req(fields.String)
    workflow_name = nullable(fields.String)
    workflow_kind = nullable(fields.String)
    current_step_index = nullable(fields.Integer)
    current_node_id = nullable(fields.String)
    visited_steps = strings()
    visited_nodes = strings()
    checkpoint_count = req(fields.Integer)
    pending_human_request = nullable(fields.Nested, HumanRequestSchema)
    continuation_id = nullable(fields.String)
    error = nullable(fields.Nested, RunErrorSchema)
    replay_context = req(fields.Nested, ReplayContextSchema)
