"""Spec routes (contract §1.8): validate, compile, explain, policy report, run."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields

from kneo import specs
from kneo.db import transaction
from kneo.web.auth import current_principal, require_scope
from kneo.web.extensions import Blueprint
from kneo.web.idempotency import idempotent
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.runs import start_run
from kneo.web.schemas import RunCreateSchema, SpecRequestSchema, SpecSourceSchema
from kneo.web.schemas.runs import RunCreateResponseSchema
from kneo.web.schemas.specs import (
    SpecCompileResponseSchema,
    SpecExplainResponseSchema,
    SpecPolicyReportResponseSchema,
    SpecValidateResponseSchema,
)
from kneo.workflows.bundles import signed_body
from kneo.workflows.policies import enforce_stored_policy
from kneo.workflows.spec_tools import load_spec, record_spec_use, validate_with_policy

blp = Blueprint("specs", __name__, description="Spec tools: validate, compile, explain, report, run.")


SpecBodySchema = SpecRequestSchema
SpecExplainSchema = SpecSourceSchema


class SpecCompileSchema(SpecRequestSchema):
    strict = fields.Boolean(load_default=True)


def load_raw(body: dict[str, Any]) -> dict[str, Any]:
    """The request's spec document (400 when neither spec nor spec_path is given)."""
    return load_spec(body, settings())


def audit(event_type: str, body: dict[str, Any], **extra: Any) -> None:
    session = db()
    with transaction(session):
        record_spec_use(session, event_type, current_principal().name, body, **extra)


@blp.route("/specs/validate")
class SpecValidate(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SpecBodySchema)
    @blp.response(200, SpecValidateResponseSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Validate a spec: ``{valid, diagnostics}`` (invalid specs are a 200 with valid=false).

        With an ``environment`` whose policy is stored, its violations are added to the report
        (compile and runs refuse such a spec with 403 ``environment_policy_blocked``)."""
        try:
            raw = load_raw(body)
        except specs.SpecParseError as exc:
            report = specs.ValidationReport(
                valid=False,
                diagnostics=[specs.Diagnostic("E_SCHEMA", "error", exc.message, None, "Check the YAML/JSON syntax.")],
            )
        else:
            report = validate_with_policy(db(), raw, body.get("environment"), settings())
        audit("spec.validated", body, valid=report.valid)
        return json_response(report.to_dict())


@blp.route("/specs/compile")
class SpecCompile(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SpecCompileSchema)
    @blp.response(200, SpecCompileResponseSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Compile a spec (422 with diagnostics when it has errors); nothing is imported."""
        raw = load_raw(signed_body(body, settings()))
        if body.get("environment"):
            enforce_stored_policy(db(), raw, body["environment"], settings())
        specs.compile_document(
            raw, allowed_modules=settings().allowed_modules, skills=settings().skills, bounds=settings().spec_bounds
        )
        report = specs.validate_document(raw, allowed_modules=settings().allowed_modules, bounds=settings().spec_bounds)
        audit("spec.compiled", body, valid=True)
        return json_response(
            {
                "ok": True,
                "diagnostics": [d.to_dict() for d in report.diagnostics],
                "summary": specs.compile_summary(raw),
            }
        )


@blp.route("/specs/explain")
class SpecExplain(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SpecExplainSchema)
    @blp.response(200, SpecExplainResponseSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Names of the root agent, root workflow and component agents."""
        raw = load_raw(body)
        result = specs.explain_document(raw)
        audit("spec.explained", body)
        return json_response(result)


@blp.route("/specs/policy-report")
class SpecPolicyReport(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SpecBodySchema)
    @blp.response(200, SpecPolicyReportResponseSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """The governance report of a spec (§11.2)."""
        raw = load_raw(body)
        result = specs.policy_report(raw, allowed_modules=settings().allowed_modules)
        audit("spec.policy_reported", body, valid=result["valid"])
        return json_response(result)


@blp.route("/specs/run")
class SpecRun(MethodView):
    @require_scope("runs:write")
    @blp.arguments(RunCreateSchema)
    @blp.response(200, RunCreateResponseSchema)
    @blp.alt_response(
        202, schema=RunCreateResponseSchema, description="Accepted: an async run was queued (`async_mode: true`)."
    )
    def post(self, body: dict[str, Any]) -> Response:
        """Run a spec synchronously (``async_mode`` is honoured too)."""
        return idempotent("specs:run", body, lambda: start_run(body, "spec.run"))
