"""``kneo human list|show|resume`` (clients of the service)."""

from __future__ import annotations

from typing import Any

import click

from kneo.cli import output
from kneo.cli.client import make_client, service_options
from kneo.cli.errors import CliError
from kneo.cli.runs import show_run


@click.group("human")
def human_group() -> None:
    """Human tasks: list, inspect, decide."""


@human_group.command("list")
@click.option("--status", default="pending", show_default=True, help="pending, resolved, expired, … or 'all'.")
@click.option("--run-id", help="Only tasks of this run.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@service_options
def human_list(
    status: str, run_id: str | None, limit: int, service_url: str | None, profile_name: str | None, as_json: bool
) -> None:
    """Human tasks (pending ones by default)."""
    params: dict[str, Any] = {"limit": limit, "status": status}
    if run_id:
        params["run_id"] = run_id
    body = make_client(service_url, profile_name).request("GET", "/human-tasks", params=params)
    if as_json:
        output.emit_json(body)
        return
    rows = [
        {
            **t,
            "continuation": t.get("id"),
            "run": t.get("run_id"),
            "request_id": t.get("pending_human_request_id"),
            "title": (t.get("pending_human_request") or {}).get("title"),
        }
        for t in body.get("tasks", [])
    ]
    output.table(rows, ["continuation", "run", "status", "request_id", "title"], empty="no human tasks")


@human_group.command("show")
@click.argument("continuation_id")
@service_options
def human_show(continuation_id: str, service_url: str | None, profile_name: str | None, as_json: bool) -> None:
    """One pending task's request (what to decide, and its request id)."""
    body = make_client(service_url, profile_name).request("GET", f"/human-tasks/{continuation_id}")
    if as_json:
        output.emit_json(body)
        return
    request = body.get("request") or {}
    output.fields(
        [
            ("Continuation", body.get("continuation_id")),
            ("Run", (body.get("task") or {}).get("run_id")),
            ("Request id", request.get("id")),
            ("Title", request.get("title")),
            ("Prompt", request.get("prompt")),
            ("Input", (request.get("context") or {}).get("input_text")),
            ("Options", request.get("options")),
            ("Assignee", request.get("assignee")),
        ]
    )
    click.echo(f"decide with: kneo human resume {continuation_id} --request-id {request.get('id')} --approve")


@human_group.command("resume")
@click.argument("continuation_id")
@click.option("--request-id", required=True, help="The request id shown by `kneo human show`.")
@click.option("--approve", is_flag=True, help="Approve as is.")
@click.option("--reject", is_flag=True, help="Reject (the next step receives the rejection).")
@click.option("--edit", "edited", metavar="TEXT", help="Replace the content with TEXT.")
@click.option("--provide", "provided", metavar="TEXT", help="Provide TEXT as the answer.")
@click.option("--select", "selected", metavar="OPTION", help="Choose one of the request's options.")
@click.option("--comment", help="Reason or comment sent as content (with --approve or --reject).")
@service_options
def human_resume(
    continuation_id: str,
    request_id: str,
    approve: bool,
    reject: bool,
    edited: str | None,
    provided: str | None,
    selected: str | None,
    comment: str | None,
    service_url: str | None,
    profile_name: str | None,
    as_json: bool,
) -> None:
    """Decide a human task: exactly one of --approve, --reject, --edit, --provide, --select."""
    chosen = [
        (name, value)
        for name, value in (
            ("approved", approve or None),
            ("rejected", reject or None),
            ("edited", edited),
            ("provided", provided),
            ("selected", selected),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --approve, --reject, --edit, --provide, --select")
    decision, value = chosen[0]
    body: dict[str, Any] = {"request_id": request_id, "decision": decision}
    if decision in ("edited", "provided"):
        body["content"] = value
    elif decision == "selected":
        body["selected_option"] = value
    elif comment:
        body["content"] = comment
    if comment and decision in ("edited", "provided", "selected"):
        raise CliError("--comment goes with --approve or --reject")
    run = make_client(service_url, profile_name).request("POST", f"/human-tasks/{continuation_id}/resume", json=body)
    if as_json:
        output.emit_json(run)
    else:
        show_run(run)
