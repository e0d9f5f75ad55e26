"""``kneo human list|get|resume`` (clients of the service)."""

from __future__ import annotations

from typing import Any

import click

from kneo.cli import output
from kneo.cli.client import Client, service_options
from kneo.cli.errors import CliError
from kneo.cli.runs import finish

TASK_STATUSES = ("pending", "escalated", "resolved", "expired", "timed_out", "cancelled", "closed", "all")
DECISIONS = ("approved", "rejected", "edited", "provided", "selected")


@click.group("human")
def human_group() -> None:
    """Human tasks: list, inspect, decide."""


@human_group.command("list")
@click.option("--status", type=click.Choice(TASK_STATUSES), default="pending", show_default=True)
@click.option("--run-id", help="Only tasks of this run (a unique prefix is enough).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Print only the continuation ids, one a line.")
@service_options
def human_list(status: str, run_id: str | None, limit: int, quiet: bool, client: Client, as_json: bool) -> None:
    """Human tasks (pending ones by default), with the decision and the reviewer once decided."""
    params: dict[str, Any] = {"limit": limit, "status": status}
    if run_id:
        params["run_id"] = client.run_id(run_id)
    body = client.request("GET", "/human-tasks", params=params)
    if as_json:
        output.emit_json(body)
        return
    if quiet:
        for task in body.get("tasks", []):
            click.echo(task.get("id"))
        return
    rows = [
        {
            **t,
            "continuation": t.get("id"),
            "run": str(t.get("run_id") or "")[:8],
            "title": (t.get("pending_human_request") or {}).get("title"),
        }
        for t in body.get("tasks", [])
    ]
    output.table(
        rows, ["continuation", "run", "status", "title", "decision", "reviewer"], empty=f"no {status} human tasks"
    )


def pending(client: Client, continuation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.request("GET", f"/human-tasks/{continuation_id}")
    return body


@human_group.command("get")
@click.argument("continuation_id")
@service_options
def human_get(continuation_id: str, client: Client, as_json: bool) -> None:
    """One pending task: what to decide, the text under review, the options."""
    body = pending(client, continuation_id)
    if as_json:
        output.emit_json(body)
        return
    request = body.get("request") or {}
    task = body.get("task") or {}
    output.fields(
        [
            ("Continuation", body.get("continuation_id")),
            ("Run", task.get("run_id")),
            ("Step", request.get("requested_by")),
            ("Title", request.get("title")),
            ("Prompt", request.get("prompt")),
            ("Under review", task.get("current_input") or (request.get("context") or {}).get("input_text")),
            ("Options", request.get("options")),
            ("Assignee", request.get("assignee")),
            ("Request id", request.get("id")),
        ],
        skip_empty=True,
    )
    click.echo(f"decide with: kneo human resume {continuation_id} --approve | --reject | --edit TEXT")


human_group.add_command(human_get, "show")


@human_group.command("resume")
@click.argument("continuation_id")
@click.option("--request-id", help="The pending request's id (default: looked up, there is only one).")
@click.option("--approve", is_flag=True, help="Approve as is.")
@click.option("--reject", is_flag=True, help="Reject (the next step receives the rejection).")
@click.option("--edit", "edited", metavar="TEXT", help="Replace the content with TEXT.")
@click.option("--provide", "provided", metavar="TEXT", help="Provide TEXT as the answer.")
@click.option("--select", "selected", metavar="OPTION", help="Choose one of the request's options.")
@click.option("--comment", help="Reason or comment sent as content (with --approve or --reject).")
@service_options
def human_resume(
    continuation_id: str,
    request_id: str | None,
    approve: bool,
    reject: bool,
    edited: str | None,
    provided: str | None,
    selected: str | None,
    comment: str | None,
    client: Client,
    as_json: bool,
) -> None:
    """Decide a human task: exactly one of --approve, --reject, --edit, --provide, --select."""
    given = (approve or None, reject or None, edited, provided, selected)
    chosen = [(name, value) for name, value in zip(DECISIONS, given, strict=True) if value is not None]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --approve, --reject, --edit, --provide, --select")
    decision, value = chosen[0]
    if comment and decision in ("edited", "provided", "selected"):
        raise click.UsageError("--comment goes with --approve or --reject")
    if request_id is None:
        request_id = (pending(client, continuation_id).get("request") or {}).get("id")
        if not request_id:
            raise CliError(f"human task {continuation_id} has no pending request", hint="kneo human list")
    body: dict[str, Any] = {"request_id": request_id, "decision": decision}
    if decision in ("edited", "provided"):
        body["content"] = value
    elif decision == "selected":
        body["selected_option"] = value
    elif comment:
        body["content"] = comment
    resumed = client.request("POST", f"/human-tasks/{continuation_id}/resume", json=body)
    finish(client.request("GET", f"/runs/{resumed['run_id']}") if not as_json else resumed, as_json)
