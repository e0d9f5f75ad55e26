"""The console blueprint, its template context and its HTML error pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from kneo.errors import KneoError
from kneo.web.console.session import console_principal, csrf_token
from kneo.web.request_scope import settings

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

NAVIGATION = (
    ("console.runs", "Runs", "runs:read"),
    ("console.inbox", "Human inbox", "human:read"),
    ("console.audit", "Audit log", "audit:read"),
    ("console.policies", "Policies", "policies:read"),
    ("console.credentials", "Credentials", "credentials:read"),
    ("console.health", "Health", None),
)


@bp.app_template_filter("short_id")
def short_id(value: str | None) -> str:
    return (value or "")[:8]


@bp.context_processor
def console_context() -> dict[str, Any]:
    principal = console_principal()
    allowed = [item for item in NAVIGATION if principal and (item[2] is None or principal.has_scope(item[2]))]
    return {
        "principal": principal,
        "auth_enabled": settings().auth_enabled,
        "navigation": allowed,
        "csrf_token": csrf_token,
        "can": (lambda scope: principal is not None and principal.has_scope(scope)),
    }


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return render_template("console/error.html", status=status, message=error.description), status


@bp.errorhandler(KneoError)
def domain_error(error: KneoError) -> tuple[str, int]:
    return render_template("console/error.html", status=error.status, message=error.message), error.status
