"""Health, liveness and readiness (contract §1.2, §6) plus the broker check."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from sqlalchemy import func, select

from kneo import __version__
from kneo.errors import ServiceUnavailable
from kneo.models import Run, StepRun, StepStatus
from kneo.redaction import redact
from kneo.secrets import extra_reference, provider_reference
from kneo.tasks.dispatch import ping_broker
from kneo.web.error_envelope import envelope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.schemas.admin import HealthResponseSchema

blp = Blueprint("health", __name__, description="Health and readiness probes (no key needed).")
SERVICE = "kneo-serv-platform"
API_LEVEL = "1.2.0"
"""The Kneo Agent Platform API level kneo serves; ``version`` reports it, ``kneo_version`` kneo's own."""


def health_body(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "service": SERVICE,
        "version": API_LEVEL,
        "api_version": API_LEVEL,
        "kneo_version": __version__,
        "metadata": metadata,
    }


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200, HealthResponseSchema)
    def get(self) -> Response:
        """Static health answer; touches no storage."""
        return json_response(health_body({"status": "healthy"}), redacted=True)


@blp.route("/livez")
class Livez(MethodView):
    @blp.response(200, HealthResponseSchema)
    def get(self) -> Response:
        """Static liveness answer."""
        return json_response(health_body({"status": "alive"}), redacted=True)


def _check(name: str, probe: Any) -> dict[str, Any]:
    try:
        return {"name": name, "ok": True, **(probe() or {})}
    except Exception as exc:
        return {"name": name, "ok": False, "error": type(exc).__name__, "message": str(exc).splitlines()[0][:300]}


def _store(write: bool) -> Any:
    """A probe of the run store through the write or the read connection pool (each must answer)."""

    def probe() -> dict[str, Any]:
        session = db(write=write)
        try:
            session.execute(select(Run.id).limit(1)).all()
        finally:
            session.rollback()  # a write transaction on SQLite holds the one writer's lock
        return {}

    return probe


def _queue() -> dict[str, Any]:
    rows = (
        db()
        .execute(
            select(StepRun.status, func.count()).where(StepRun.status.in_(StepStatus.OPEN)).group_by(StepRun.status)
        )
        .all()
    )
    counts = dict(rows)
    return {
        "kind": "PostgreSQL" if settings().database_url else "SQLite",
        "durable": True,
        "queued": counts.get("queued", 0) + counts.get("retrying", 0),
        "running": counts.get("running", 0),
        "failed": 0,
    }


def _broker() -> dict[str, Any]:
    url = settings().broker_url
    if url.startswith("memory://"):
        return {"kind": "memory", "embedded": True}
    ping_broker()
    return {"kind": url.split("://")[0]}


def _secrets(names: tuple[str, ...], reference: Any) -> dict[str, Any]:
    """Provider keys / MCP secret env vars named by the operator: present or not (never a value)."""
    if not names:
        return {"configured": False}
    items = {name: reference(name) for name in names}
    return {"ok": all(item["present"] for item in items.values()), "items": items}


def readiness() -> tuple[bool, dict[str, Any]]:
    checks = {
        "api": {"name": "api", "ok": True, "status": "ready"},
        "run_state_store": _check("run_state_store", _store(write=True)),
        "continuation_store": _check("continuation_store", _store(write=False)),
        "queue": _check("queue", _queue),
        "broker": _check("broker", _broker),
        "runtime_registry": {"name": "runtime_registry", "ok": True, "count": 2, "names": ["bridge", "native"]},
        "tool_registry": {"name": "tool_registry", "ok": True, "count": 0, "names": []},
        "providers": {"name": "providers", "ok": True, **_secrets(settings().health_providers, provider_reference)},
        "mcp": {"name": "mcp", "ok": True, **_secrets(settings().health_mcp_secrets, extra_reference)},
    }
    db().rollback()
    ready = all(check.get("ok", True) for check in checks.values())
    return ready, {"ready": ready, "manager": "PlatformManager", "checks": checks}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200, HealthResponseSchema)
    def get(self) -> Response:
        """Ready iff the database, the queue table and the broker answer."""
        ready, metadata = readiness()
        metadata = _redacted(metadata)
        if not ready:
            error = ServiceUnavailable("One or more readiness checks failed.", code="not_ready", metadata=metadata)
            return envelope(error.status, error.to_detail())
        return json_response(health_body(metadata), redacted=True)


def _redacted(metadata: dict[str, Any]) -> dict[str, Any]:
    """Redact the probes' messages but keep the secret references whole: a reference such as
    ``MCP_TOKEN`` has a sensitive-looking name yet never carries a value (contract §18.6 fixed)."""
    checks = metadata["checks"]
    references = {k: checks[k] for k in ("providers", "mcp")}
    cleaned = redact({**metadata, "checks": {k: v for k, v in checks.items() if k not in references}})
    cleaned["checks"].update(references)
    return cleaned
