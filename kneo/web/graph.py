"""Workflow graphs: a spec's root workflow and a run's plan with its visited state."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from kneo import specs
from kneo.web.auth import require_scope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.schemas import SpecRequestSchema
from kneo.web.schemas.graph import RunGraphSchema, WorkflowGraphSchema
from kneo.web.specs import load_raw
from kneo.workflows.kinds.layout import run_graph, workflow_graph
from kneo.workflows.runs import get_run
from kneo.workflows.serialize import run_state

blp = Blueprint("graph", __name__, description="Workflow graphs of specs and runs.")


@blp.route("/specs/graph")
class SpecGraph(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SpecRequestSchema)
    @blp.response(200, WorkflowGraphSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """``{workflow, nodes, edges}`` of the spec's root workflow (compiled; 422 when invalid)."""
        raw = load_raw(body)
        plan = specs.compile_document(
            raw, allowed_modules=settings().allowed_modules, skills=settings().skills, bounds=settings().spec_bounds
        )
        return json_response(workflow_graph(plan))


@blp.route("/runs/<run_id>/graph")
class RunGraph(MethodView):
    @require_scope("runs:read")
    @blp.response(200, RunGraphSchema)
    def get(self, run_id: str) -> Response:
        """The run's workflow graph (from the plan stored with the run) with visited state."""
        run = get_run(db(), run_id)
        view: dict[str, Any] = {**run_state(run, with_spec=False), "engine_state": run.engine_state}
        return json_response(run_graph(run.plan, view))
