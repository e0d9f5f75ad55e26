"""Audit log, environment policies, the credentials inventory and the health page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from kneo.audit.record import audit_event_view
from kneo.db import transaction, utcnow
from kneo.errors import KneoError
from kneo.web.console.blueprint import bp
from kneo.web.console.session import console_principal, page
from kneo.web.credentials import read_inventory
from kneo.web.health import readiness
from kneo.web.policies import EnvironmentPolicySchema
from kneo.web.request_scope import db
from kneo.workflows import queries
from kneo.workflows.policies import (
    check_environment,
    environment_policies,
    refuse_bound_principal,
    set_environment_policy,
)

AUDIT_PAGE = 50
WORKER_WINDOW_MINUTES = 15
POLICY_FLAGS = (
    ("enabled", "Enforce this policy"),
    ("fail_on_warnings", "Treat warnings as errors"),
    ("require_human_review", "Require a human approval step"),
    ("require_tool_permissions", "Require tool permissions"),
    ("deny_unrestricted_tools", "Deny unrestricted tools"),
    ("require_guardrails", "Require guardrails"),
)


@bp.get("/audit")
@page("audit:read")
def audit() -> str:
    filters = {name: (request.args.get(name) or "").strip() for name in ("event_type", "run_id", "actor")}
    try:
        offset = max(0, min(int(request.args.get("offset") or 0), 10_000))
    except ValueError:
        offset = 0
    events, total = queries.list_audit(db(), filters, queries.Page(AUDIT_PAGE, offset, "created_at", "desc"))
    more = offset + len(events) < total
    items = [audit_event_view(e) for e in events]
    return render_template(
        "console/audit.html", events=items, filters=filters, offset=offset, more=more, page_size=AUDIT_PAGE
    )


@bp.get("/policies")
@page("policies:read")
def policies() -> str:
    return _policies_page(errors={}, form={})


def _policies_page(errors: dict[str, Any], form: dict[str, Any], status: int = 200) -> Any:
    rows = environment_policies(db())
    stored = [
        {"environment": r.environment, "policy": r.policy, "updated_by": r.updated_by, "updated_at": r.updated_at}
        for r in rows
    ]
    return render_template(
        "console/policies.html", policies=stored, flags=POLICY_FLAGS, errors=errors, form=form
    ), status


@bp.post("/policies")
@page("policies:write")
def save_policy() -> Any:
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    environment = (form.get("environment") or "").strip()
    fields: dict[str, Any] = {name: name in request.form for name, _ in POLICY_FLAGS}
    codes = form.get("blocked_diagnostic_codes") or ""
    fields["blocked_diagnostic_codes"] = [c.strip() for c in codes.replace(",", "\n").splitlines() if c.strip()]
    try:
        environment = check_environment(environment)
        refuse_bound_principal(console_principal())
        parsed = EnvironmentPolicySchema().load(fields)
    except ValidationError as exc:
        return _policies_page(errors={k: list(v) for k, v in exc.messages.items()}, form=form, status=422)  # type: ignore[union-attr]
    except KneoError as exc:
        return _policies_page(errors={"environment": [exc.message]}, form=form, status=exc.status)
    session = db()
    principal = console_principal()
    with transaction(session):
        set_environment_policy(session, environment, parsed, principal.name if principal else "anonymous", utcnow())
    flash(f"Policy for {environment} saved.", "ok")
    return redirect(url_for("console.policies"))


@bp.get("/credentials")
@page("credentials:read")
def credentials() -> str:
    principal = console_principal()
    inventory = read_inventory(principal.name if principal else "anonymous", [], [], True)
    return render_template("console/credentials.html", inventory=inventory)


@bp.get("/health")
@page(None)
def health() -> str:
    ready, metadata = readiness()
    workers = queries.recent_workers(db(), utcnow() - timedelta(minutes=WORKER_WINDOW_MINUTES))
    return render_template(
        "console/health.html", ready=ready, checks=metadata["checks"], workers=workers, window=WORKER_WINDOW_MINUTES
    )
