"""Health, audit, policy, credential and skill responses (contract §1.2, §1.10, §6, §12.1)."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import OpenOut, Out, PageSchema, free_form, nullable, req, strings


class HealthResponseSchema(Out):
    """``metadata`` is ``{status}`` for /healthz and /livez, ``{ready, manager, checks}`` for /readyz."""

    ok = req(fields.Boolean)
    service = req(fields.String)
    version = req(fields.String)
    api_version = req(fields.String)
    kneo_version = req(fields.String)
    metadata = req(fields.Nested, "HealthMetadataSchema")


class ReadinessCheckSchema(OpenOut):
    """One readiness check ``{name, ok, …}``; a failed probe adds ``error`` and ``message``."""

    name = req(fields.String)
    ok = req(fields.Boolean)


class HealthMetadataSchema(Out):
    status = fields.String()
    ready = fields.Boolean()
    manager = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(ReadinessCheckSchema))


class AuditEventSchema(Out):
    """An audit event; ``seq``, ``prev_hash`` and ``hash`` (its chain link) with ``include_hashes``."""

    id = req(fields.String)
    event_type = req(fields.String)
    run_id = nullable(fields.String)
    continuation_id = nullable(fields.String)
    actor = nullable(fields.String)
    metadata = free_form()
    created_at = nullable(fields.String)
    seq = fields.Integer(allow_none=True)
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


class AuditEventListResponseSchema(PageSchema):
    events = req(fields.List, fields.Nested(AuditEventSchema))


class StoredEnvironmentPolicySchema(Out):
    enabled = req(fields.Boolean)
    fail_on_warnings = req(fields.Boolean)
    blocked_diagnostic_codes = strings()
    require_human_review = req(fields.Boolean)
    require_tool_permissions = req(fields.Boolean)
    deny_unrestricted_tools = req(fields.Boolean)
    require_guardrails = req(fields.Boolean)
    deny_unlisted_mcp_commands = req(fields.Boolean)


class EnvironmentPolicyResponseSchema(Out):
    environment = req(fields.String)
    policy = nullable(fields.Nested, StoredEnvironmentPolicySchema)
    previous_policy = nullable(fields.Nested, StoredEnvironmentPolicySchema)


class EnvironmentPolicyListResponseSchema(Out):
    policies = req(fields.Dict, keys=fields.String(), values=fields.Nested(StoredEnvironmentPolicySchema))
    count = req(fields.Integer)


class FieldChangeSchema(Out):
    from_ = req(fields.Raw, data_key="from")
    to = req(fields.Raw)


class PolicyPreviewResponseSchema(Out):
    """What a candidate policy would change: fields, and runs whose block outcome flips."""

    environment = req(fields.String)
    diff = req(fields.Dict, keys=fields.String(), values=fields.Nested(FieldChangeSchema))
    affected_run_ids = strings()
    newly_blocking = strings()
    runs_evaluated = req(fields.Integer)


class CredentialReferenceSchema(Out):
    """A secret reference: whether it is set, never its value (``[REDACTED]`` when present)."""

    name = req(fields.String)
    env_var = req(fields.String)
    present = req(fields.Boolean)
    value = nullable(fields.String)
    status = req(fields.String)
    expires_at = nullable(fields.String)
    last_checked = nullable(fields.String)


def references(required: bool) -> fields.Dict:
    """References by name."""
    return fields.Dict(keys=fields.String(), values=fields.Nested(CredentialReferenceSchema), required=required)


class CredentialInventorySchema(Out):
    """Provider and extra references; service-token references unless ``include_service_tokens=false``."""

    providers = references(required=True)
    extra = references(required=True)
    service_tokens = references(required=False)


class CredentialInventoryResponseSchema(Out):
    inventory = req(fields.Nested, CredentialInventorySchema)


class SkillSchema(Out):
    name = req(fields.String)
    description = nullable(fields.String)
    path = req(fields.String)


class SkillListResponseSchema(PageSchema):
    skills = req(fields.List, fields.Nested(SkillSchema))
