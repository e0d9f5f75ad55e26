"""Environment policies: stored per environment and enforced on every compile and run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from kneo import specs
from kneo.audit.record import record_audit
from kneo.auth.keys import Principal
from kneo.config import Settings
from kneo.environments import normalise_environment
from kneo.errors import Forbidden, Unprocessable
from kneo.models import EnvironmentPolicy, Run

MAX_PREVIEW_RUNS = 500
MAX_ENVIRONMENT_CHARS = 128


def check_environment(environment: str) -> str:
    """The canonical spelling of an environment's name (422 when blank or too long)."""
    name = normalise_environment(environment)
    if name is None or len(name) > MAX_ENVIRONMENT_CHARS:
        raise Unprocessable(f"environment must be 1..{MAX_ENVIRONMENT_CHARS} characters.", code="invalid_environment")
    return name


def refuse_bound_principal(principal: Principal | None) -> None:
    """403 for a key bound to environments: it runs under their policies, so may not change any."""
    if principal is not None and principal.environments:
        raise Forbidden("A key bound to environments may not change environment policies.", code="forbidden")


def environment_policies(session: Session) -> list[EnvironmentPolicy]:
    """Every stored environment policy, by environment."""
    return list(session.execute(select(EnvironmentPolicy).order_by(EnvironmentPolicy.environment)).scalars())


def stored_policy(session: Session, environment: str) -> dict[str, Any] | None:
    """The stored policy of ``environment`` (any spelling) or None."""
    row = session.get(EnvironmentPolicy, normalise_environment(environment) or environment)
    return dict(row.policy) if row else None


def set_environment_policy(
    session: Session, environment: str, fields: Mapping[str, Any], actor: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Replace ``environment``'s policy (missing fields reset to defaults) and audit the change.

    Returns the stored policy and the previous one (None when there was none). The policy is
    stored under the environment's canonical spelling.
    """
    environment = normalise_environment(environment) or environment
    policy = specs.EnvironmentPolicy.from_mapping(fields).to_dict()
    row = session.get(EnvironmentPolicy, environment, with_for_update=True)
    previous = dict(row.policy) if row else None
    if row is None:
        session.add(EnvironmentPolicy(environment=environment, policy=policy, updated_by=actor, updated_at=now))
    else:
        row.policy, row.updated_by, row.updated_at = policy, actor, now
    changed = sorted(k for k in policy if previous is None or previous.get(k) != policy[k])
    record_audit(
        session,
        "policy.changed",
        actor=actor,
        now=now,
        metadata={
            "surface": "environment_policy_enforcement",
            "environment": environment,
            "previous": previous,
            "current": policy,
            "changed_fields": changed,
        },
    )
    return policy, previous


def blocking_diagnostics(
    raw: Mapping[str, Any], environment: str, policy: Mapping[str, Any] | None, settings: Settings
) -> list[specs.Diagnostic]:
    """The policy's error diagnostics for a spec (empty: the spec is allowed)."""
    if not policy:
        return []
    diagnostics = specs.enforce_environment_policy(
        raw, environment, policy, mcp_commands=settings.agents.sandbox.commands
    )
    return [d for d in diagnostics if d.severity == "error"]


def enforce_stored_policy(session: Session, raw: Mapping[str, Any], environment: str, settings: Settings) -> None:
    """Raise 403 ``environment_policy_blocked`` (with the blocking diagnostics) when the spec breaks
    the stored policy; runs and compile are refused, as 1.2 does."""
    errors = blocking_diagnostics(raw, environment, stored_policy(session, environment), settings)
    if errors:
        raise Forbidden(
            "\n".join(f"ERROR {d.code}: {d.message}" for d in errors),
            code="environment_policy_blocked",
            environment=environment,
            diagnostics=[d.to_dict() for d in errors],
        )


def preview_policy(
    session: Session, environment: str, candidate: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    """What replacing the stored policy with ``candidate`` would change: the field diff, and which of
    the environment's latest runs (at most ``MAX_PREVIEW_RUNS``) would change their block outcome."""
    current = stored_policy(session, environment)
    diff = {
        name: {"from": None if current is None else current.get(name), "to": value}
        for name, value in candidate.items()
        if current is None or current.get(name) != value
    }
    affected: list[str] = []
    newly_blocking: list[str] = []
    runs = _environment_runs(session, environment)
    for run in runs:
        raw = _run_spec(run, settings)
        if raw is None:
            continue
        blocked_now = bool(blocking_diagnostics(raw, environment, current, settings))
        blocked_then = bool(blocking_diagnostics(raw, environment, candidate, settings))
        if blocked_now != blocked_then:
            affected.append(run.id)
            if blocked_then:
                newly_blocking.append(run.id)
    return {
        "environment": environment,
        "diff": diff,
        "affected_run_ids": affected,
        "newly_blocking": newly_blocking,
        "runs_evaluated": len(runs),
    }


def _environment_runs(session: Session, environment: str) -> list[Run]:
    stmt = (
        select(Run)
        .options(undefer(Run.spec))
        .where(Run.environment == environment)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(MAX_PREVIEW_RUNS)
    )
    return list(session.execute(stmt).scalars())


def _run_spec(run: Run, settings: Settings) -> Mapping[str, Any] | None:
    """The spec a run was created from (its inline spec, or its spec file when it still loads)."""
    if run.spec is not None:
        return run.spec
    spec_path = (run.run_metadata or {}).get("spec_path")
    if not spec_path:
        return None
    try:
        return specs.load_document(None, spec_path, spec_root=settings.spec_root)
    except specs.SpecError:
        return None
