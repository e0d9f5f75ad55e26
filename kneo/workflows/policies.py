"""Environment policies: stored per environment and enforced on every compile and run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kneo import specs
from kneo.config import Settings
from kneo.errors import Unprocessable
from kneo.models import EnvironmentPolicy


def stored_policy(session: Session, environment: str) -> dict[str, Any] | None:
    """The stored policy of ``environment`` or None."""
    row = session.get(EnvironmentPolicy, environment)
    return dict(row.policy) if row else None


def enforce_stored_policy(session: Session, raw: Mapping[str, Any], environment: str, settings: Settings) -> None:
    """Raise 422 ``environment_policy_violation`` when the spec breaks the stored policy."""
    policy = stored_policy(session, environment)
    if not policy:
        return
    diagnostics = specs.enforce_environment_policy(
        raw, environment, policy, mcp_commands=settings.agents.sandbox.commands
    )
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise Unprocessable(
            "\n".join(f"ERROR {d.code}: {d.message}" for d in errors),
            code="environment_policy_violation",
            environment=environment,
            diagnostics=[d.to_dict() for d in errors],
        )
