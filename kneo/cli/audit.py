"""``kneo audit list``: the audit trail (a client of the service)."""

from __future__ import annotations

from typing import Any

import click

from kneo.cli import output
from kneo.cli.client import Client, service_options


@click.group("audit")
def audit_group() -> None:
    """The audit trail: who did what to which run."""


@audit_group.command("list")
@click.option("--run-id", help="Only events of this run (a unique prefix is enough).")
@click.option("--event-type", help="Only events of this type (run.created, human.decision, …).")
@click.option("--actor", help="Only events by this key name.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@service_options
def audit_list(
    run_id: str | None,
    event_type: str | None,
    actor: str | None,
    limit: int,
    oldest_first: bool,
    client: Client,
    as_json: bool,
) -> None:
    """Audit events, newest first (needs the audit:read scope)."""
    params: dict[str, Any] = {"limit": limit, "sort_order": "asc" if oldest_first else "desc"}
    if run_id:
        params["run_id"] = client.run_id(run_id)
    for key, value in (("event_type", event_type), ("actor", actor)):
        if value:
            params[key] = value
    body = client.request("GET", "/audit-events", params=params)
    if as_json:
        output.emit_json(body)
        return
    events = body.get("events") or body.get("audit_events") or []
    rows = [{**e, "run": str(e.get("run_id") or "")[:8] or None, "type": e.get("event_type")} for e in events]
    output.table(rows, ["created_at", "type", "actor", "run"], empty="no audit events")
