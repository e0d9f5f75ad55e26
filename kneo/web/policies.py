"""Environment policies (contract §1.10, §11.1): stored here and enforced on every compile and run."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import ValidationError, fields, validates_schema

from kneo import specs
from kneo.db import transaction, utcnow
from kneo.web.auth import current_principal, require_scope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.schemas import StrictSchema, _limits
from kneo.web.schemas.admin import (
    EnvironmentPolicyListResponseSchema,
    EnvironmentPolicyResponseSchema,
    PolicyPreviewResponseSchema,
)
from kneo.workflows.policies import (
    check_environment,
    environment_policies,
    preview_policy,
    refuse_bound_principal,
    set_environment_policy,
    stored_policy,
)

blp = Blueprint("policies", __name__, description="Environment policies.")


class EnvironmentPolicySchema(StrictSchema):
    enabled = fields.Boolean(load_default=True)
    fail_on_warnings = fields.Boolean(load_default=False)
    blocked_diagnostic_codes = fields.List(fields.String(), load_default=list)
    require_human_review = fields.Boolean(load_default=False)
    require_tool_permissions = fields.Boolean(load_default=False)
    deny_unrestricted_tools = fields.Boolean(load_default=False)
    require_guardrails = fields.Boolean(load_default=False)
    deny_unlisted_mcp_commands = fields.Boolean(load_default=False)

    @validates_schema
    def check_limits(self, data: dict[str, Any], **_: Any) -> None:
        limits = _limits()
        codes = data.get("blocked_diagnostic_codes") or []
        if len(codes) > limits.max_list_items:
            raise ValidationError(
                {
                    "blocked_diagnostic_codes": [
                        f"Value error, blocked_diagnostic_codes exceeds maximum item count of {limits.max_list_items}."
                    ]
                }
            )
        if any(len(c) > limits.max_path_chars for c in codes):
            raise ValidationError(
                {"blocked_diagnostic_codes": ["Value error, diagnostic code exceeds maximum length."]}
            )


@blp.route("/policies/environment")
class Policies(MethodView):
    @require_scope("policies:read")
    @blp.response(200, EnvironmentPolicyListResponseSchema)
    def get(self) -> Response:
        """Every stored environment policy."""
        rows = environment_policies(db())
        return json_response({"policies": {r.environment: r.policy for r in rows}, "count": len(rows)})


@blp.route("/policies/environment/<environment>")
class PolicyItem(MethodView):
    @require_scope("policies:read")
    @blp.response(200, EnvironmentPolicyResponseSchema)
    def get(self, environment: str) -> Response:
        """One environment's policy (null when none is stored)."""
        environment = check_environment(environment)
        policy = stored_policy(db(), environment)
        return json_response({"environment": environment, "policy": policy, "previous_policy": None})

    @require_scope("policies:write")
    @blp.arguments(EnvironmentPolicySchema)
    @blp.response(200, EnvironmentPolicyResponseSchema)
    def put(self, body: dict[str, Any], environment: str) -> Response:
        """Replace an environment's policy (missing fields reset to defaults); audited."""
        environment = check_environment(environment)
        refuse_bound_principal(current_principal())
        session = db()
        with transaction(session):
            policy, previous = set_environment_policy(session, environment, body, current_principal().name, utcnow())
        return json_response({"environment": environment, "policy": policy, "previous_policy": previous})


@blp.route("/policies/environment/<environment>/preview")
class PolicyPreview(MethodView):
    @require_scope("policies:read")
    @blp.arguments(EnvironmentPolicySchema)
    @blp.response(200, PolicyPreviewResponseSchema)
    def post(self, body: dict[str, Any], environment: str) -> Response:
        """What a candidate policy would change (field diff; runs whose block outcome flips); nothing is stored."""
        environment = check_environment(environment)
        candidate = specs.EnvironmentPolicy.from_mapping(body).to_dict()
        return json_response(preview_policy(db(), environment, candidate, settings()))
