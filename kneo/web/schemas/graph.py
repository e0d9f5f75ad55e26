"""Workflow graph responses: a spec's root workflow, and a run's with its visited state."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import Out, nullable, req, strings


class GraphWorkflowSchema(Out):
    name = req(fields.String)
    type = req(fields.String)
    max_steps = nullable(fields.Integer)


class GraphNodeSchema(Out):
    """A step or node; ``workflow`` names the component workflow it runs, ``parallel`` marks a
    concurrent participant."""

    id = req(fields.String)
    name = req(fields.String)
    kind = req(fields.String)
    ref = nullable(fields.String)
    start = req(fields.Boolean)
    on_error = req(fields.String)
    max_retries = req(fields.Integer)
    timeout_seconds = nullable(fields.Float)
    fallback_node = nullable(fields.String)
    workflow = fields.String()
    parallel = fields.Boolean()


class GraphEdgeSchema(Out):
    """An edge; ``condition`` is the spec's condition object (null: unconditional)."""

    source = req(fields.String)
    target = req(fields.String)
    label = nullable(fields.String)
    conditional = req(fields.Boolean)
    priority = req(fields.Integer)
    from_ = req(fields.String, data_key="from")
    to = req(fields.String)
    condition = nullable(fields.Dict)


class WorkflowGraphSchema(Out):
    """``POST /specs/graph``: nodes and edges of the root workflow (one agent node when there is none)."""

    workflow_kind = nullable(fields.String)
    workflow_name = nullable(fields.String)
    start = nullable(fields.String)
    max_steps = nullable(fields.Integer)
    workflow = nullable(fields.Nested, GraphWorkflowSchema)
    nodes = req(fields.List, fields.Nested(GraphNodeSchema))
    edges = req(fields.List, fields.Nested(GraphEdgeSchema))


class RunGraphNodeSchema(GraphNodeSchema):
    visits = req(fields.Integer)
    visited = req(fields.Boolean)
    state = req(fields.String)


class RunGraphEdgeSchema(GraphEdgeSchema):
    traversed = req(fields.Boolean)


class RunGraphSchema(WorkflowGraphSchema):
    """``GET /runs/{id}/graph``: the graph with visits per node, traversed edges and where the run is."""

    nodes = req(fields.List, fields.Nested(RunGraphNodeSchema))
    edges = req(fields.List, fields.Nested(RunGraphEdgeSchema))
    run_id = req(fields.String)
    status = req(fields.String)
    visited = strings()
    visited_steps = strings()
    visited_nodes = strings()
    current = nullable(fields.String)
    termination = nullable(fields.String)
