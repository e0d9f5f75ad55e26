"""Use cases of the spec tools: load a request's spec, validate it under an environment's policy,
report on its governance, and audit each use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kneo import specs
from kneo.audit.record import record_audit
from kneo.config import Settings
from kneo.errors import BadRequest
from kneo.workflows.policies import stored_policy
from kneo.workflows.runs import get_run


def load_spec(body: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The request's spec document (400 when neither spec nor spec_path is given)."""
    if body.get("spec") is None and not body.get("spec_path"):
        raise BadRequest("Either spec or spec_path is required.", code="ValueError")
    return specs.load_document(
        body.get("spec"),
        body.get("spec_path"),
        spec_root=settings.spec_root,
        overrides=body.get("overrides") or None,
    )


def record_spec_use(session: Session, event_type: str, actor: str, body: Mapping[str, Any], **extra: Any) -> None:
    """Audit one use of a spec tool (what was asked, never the spec itself)."""
    record_audit(
        session,
        event_type,
        actor=actor,
        metadata={
            "spec_path": body.get("spec_path"),
            "inline_spec": body.get("spec") is not None,
            "environment": body.get("environment"),
            "overlays": body.get("overlays") or [],
            **extra,
        },
    )


def validate_with_policy(
    session: Session, raw: Mapping[str, Any], environment: str | None, settings: Settings
) -> specs.ValidationReport:
    """The spec's validation report, with the stored policy's violations of ``environment`` added."""
    report = specs.validate_document(raw, allowed_modules=settings.allowed_modules, bounds=settings.spec_bounds)
    if not environment or not report.valid:
        return report
    policy = stored_policy(session, environment)
    if not policy:
        return report
    extra = specs.enforce_environment_policy(raw, environment, policy, mcp_commands=settings.agents.sandbox.commands)
    return specs.ValidationReport(
        valid=report.valid and not any(d.severity == "error" for d in extra),
        diagnostics=[*report.diagnostics, *extra],
    )


def run_policy_report(session: Session, run_id: str, actor: str, settings: Settings) -> dict[str, Any]:
    """The policy report of the spec a run was created from (400 when it has none), audited."""
    run = get_run(session, run_id)
    raw = run.spec
    if raw is None and run.run_metadata.get("spec_path"):
        raw = specs.load_document(None, run.run_metadata["spec_path"], spec_root=settings.spec_root)
    if raw is None:
        raise BadRequest("Run has no stored spec to report on.", code="ValueError")
    result = specs.policy_report(raw, allowed_modules=settings.allowed_modules)
    record_audit(
        session,
        "spec.policy_reported",
        actor=actor,
        run_id=run.id,
        metadata={"valid": result["valid"], "source": "run"},
    )
    return result
