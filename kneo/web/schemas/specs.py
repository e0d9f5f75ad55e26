"""Spec tool responses (contract §1.8, §11.2): validate, compile, explain, policy report."""

from __future__ import annotations

from marshmallow import fields

from kneo.web.schemas.common import DiagnosticSchema, Out, free_form, nullable, req, strings


class SpecValidateResponseSchema(Out):
    valid = req(fields.Boolean)
    diagnostics = req(fields.List, fields.Nested(DiagnosticSchema))


class CompileSummarySchema(Out):
    has_root_agent = req(fields.Boolean)
    has_root_workflow = req(fields.Boolean)
    component_agents = strings()


class SpecCompileResponseSchema(Out):
    ok = req(fields.Boolean)
    diagnostics = req(fields.List, fields.Nested(DiagnosticSchema))
    summary = req(fields.Nested, CompileSummarySchema)


class ExplainSummarySchema(Out):
    root_agent = nullable(fields.String)
    root_workflow = nullable(fields.String)
    component_agents = strings()


class SpecExplainResponseSchema(Out):
    summary = req(fields.Nested, ExplainSummarySchema)


class ReportSummarySchema(Out):
    agent_count = req(fields.Integer)
    workflow_count = req(fields.Integer)
    tool_count = req(fields.Integer)
    mcp_tool_count = req(fields.Integer)
    human_reviewer_count = req(fields.Integer)
    human_review_step_count = req(fields.Integer)
    diagnostic_count = req(fields.Integer)


class AgentMemorySchema(Out):
    agent = req(fields.String)
    configured = req(fields.Boolean)
    policy = req(fields.Raw)
    config = free_form()


class MemoryReportSchema(Out):
    agents = req(fields.List, fields.Nested(AgentMemorySchema))


class McpImportSchema(Out):
    name = req(fields.String)
    config = free_form()


class AgentToolPolicySchema(Out):
    agent = req(fields.String)
    include = req(fields.List, fields.Raw())
    exclude = req(fields.List, fields.Raw())
    permissions = nullable(fields.Dict)
    unrestricted = req(fields.Boolean)


class ToolsReportSchema(Out):
    declared = strings()
    mcp_imports = req(fields.List, fields.Nested(McpImportSchema))
    agent_policies = req(fields.List, fields.Nested(AgentToolPolicySchema))


class AgentGuardrailsSchema(Out):
    agent = req(fields.String)
    configured = req(fields.Boolean)
    stages = req(fields.Dict, keys=fields.String(), values=fields.Integer())


class GuardrailsReportSchema(Out):
    agents = req(fields.List, fields.Nested(AgentGuardrailsSchema))


class ReviewStepSchema(Out):
    workflow = req(fields.String)
    step_id = req(fields.String)
    ref = nullable(fields.String)


class RequirementSchema(Out):
    code = req(fields.String)
    path = nullable(fields.String)
    reason = req(fields.String)


class HumanReviewReportSchema(Out):
    reviewers = strings()
    workflow_steps = req(fields.List, fields.Nested(ReviewStepSchema))
    required = req(fields.Boolean)
    requirements = req(fields.List, fields.Nested(RequirementSchema))
    missing = req(fields.Boolean)


class PolicyReportSchema(Out):
    """The governance report; a spec that fails its schema gets only ``valid`` and ``diagnostics``."""

    valid = req(fields.Boolean)
    diagnostics = req(fields.List, fields.Nested(DiagnosticSchema))
    version = fields.String()
    summary = fields.Nested(ReportSummarySchema)
    memory = fields.Nested(MemoryReportSchema)
    tools = fields.Nested(ToolsReportSchema)
    guardrails = fields.Nested(GuardrailsReportSchema)
    human_review = fields.Nested(HumanReviewReportSchema)


class SpecPolicyReportResponseSchema(Out):
    valid = req(fields.Boolean)
    report = req(fields.Nested, PolicyReportSchema)
