"""``kneo run`` and ``kneo runs list|get|trace|checkpoints|cancel`` (clients of the service)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import yaml

from kneo.cli import output
from kneo.cli.client import Client, make_client, service_options
from kneo.cli.errors import CliError

SETTLED = frozenset({"completed", "failed", "cancelled", "expired", "timed_out", "blocked"})


def load_spec(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CliError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(spec, dict):
        raise CliError(f"{path} does not hold a spec mapping")
    return spec


def wait_for_run(client: Client, run_id: str, timeout: float, interval: float = 0.5) -> dict[str, Any]:
    """Poll until the run is terminal or blocked."""
    deadline = time.monotonic() + timeout
    with output.progress(f"waiting for run {run_id[:8]}"):
        while True:
            run: dict[str, Any] = client.request("GET", f"/runs/{run_id}")
            if run.get("status") in SETTLED:
                return run
            if time.monotonic() > deadline:
                raise CliError(f"run {run_id} is still {run.get('status')} after {timeout:g}s")
            time.sleep(interval)


def show_run(run: dict[str, Any]) -> None:
    output.fields(
        [
            ("Run", run.get("run_id") or run.get("id")),
            ("Status", run.get("status")),
            ("Workflow", run.get("workflow_name") or (run.get("metadata") or {}).get("workflow", {}).get("name")),
            ("Agent", run.get("agent_name") or (run.get("metadata") or {}).get("agent_name")),
            ("Output", run.get("output_text")),
            ("Error", (run.get("error") or {}).get("message") if run.get("error") else None),
        ]
    )
    if run.get("status") == "blocked":
        continuation = run.get("continuation_id")
        click.echo(f"⚠ human intervention required: kneo human show {continuation}", err=True)


@click.command("run")
@click.argument("spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-i", "--input", "input_text", required=True, help="The run's input text.")
@click.option("--target", type=click.Choice(["workflow", "agent"]), default="workflow", show_default=True)
@click.option("--async", "async_mode", is_flag=True, help="Return at once with the queued run id.")
@click.option("--wait", is_flag=True, help="With --async: poll until the run is terminal or blocked.")
@click.option("--environment", "--env", help="Environment whose policy applies.")
@service_options
def run_command(
    spec_path: Path,
    input_text: str,
    target: str,
    async_mode: bool,
    wait: bool,
    environment: str | None,
    service_url: str | None,
    profile_name: str | None,
    as_json: bool,
) -> None:
    """Run SPEC_PATH on the service (options may come before or after the path)."""
    client = make_client(service_url, profile_name)
    body: dict[str, Any] = {"input": input_text, "spec": load_spec(spec_path), "target": target}
    body["async_mode"] = async_mode
    if environment:
        body["environment"] = environment
    with output.progress("running" if not async_mode else "submitting"):
        run = client.request("POST", "/runs", json=body)
    if async_mode and wait:
        run = wait_for_run(client, run["run_id"], client.timeout)
    if as_json:
        output.emit_json(run)
    else:
        show_run(run)
    if run.get("status") == "failed":
        raise SystemExit(1)


@click.group("runs")
def runs_group() -> None:
    """Inspect and cancel runs."""


@runs_group.command("list")
@click.option("--status", help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10000), default=0)
@service_options
def runs_list(
    status: str | None, limit: int, offset: int, service_url: str | None, profile_name: str | None, as_json: bool
) -> None:
    """The most recently updated runs."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    body = make_client(service_url, profile_name).request("GET", "/runs", params=params)
    if as_json:
        output.emit_json(body)
        return
    rows = [
        {**r, "run": r.get("id") or r.get("run_id"), "workflow": r.get("workflow_name") or r.get("agent_name")}
        for r in body.get("runs", [])
    ]
    output.table(rows, ["run", "status", "workflow", "updated_at"], empty="no runs")
    click.echo(f"{body.get('count', len(rows))} of {body.get('total', len(rows))} runs")


@runs_group.command("get")
@click.argument("run_id")
@service_options
def runs_get(run_id: str, service_url: str | None, profile_name: str | None, as_json: bool) -> None:
    """One run's status and output."""
    run = make_client(service_url, profile_name).request("GET", f"/runs/{run_id}")
    if as_json:
        output.emit_json(run)
    else:
        show_run(run)


@runs_group.command("trace")
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@service_options
def runs_trace(run_id: str, limit: int, service_url: str | None, profile_name: str | None, as_json: bool) -> None:
    """The run's trace events, oldest first."""
    body = make_client(service_url, profile_name).request("GET", f"/runs/{run_id}/trace", params={"limit": limit})
    if as_json:
        output.emit_json(body)
        return
    rows = [
        {**e, "type": e.get("type") or e.get("event_type"), "step": e.get("step_id")} for e in body.get("events", [])
    ]
    output.table(rows, ["timestamp", "type", "step", "message"], empty="no trace events")


@runs_group.command("checkpoints")
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@service_options
def runs_checkpoints(run_id: str, limit: int, service_url: str | None, profile_name: str | None, as_json: bool) -> None:
    """The run's checkpoints, by sequence."""
    body = make_client(service_url, profile_name).request("GET", f"/runs/{run_id}/checkpoints", params={"limit": limit})
    if as_json:
        output.emit_json(body)
        return
    rows = [{**c, "step": c.get("step_id")} for c in body.get("checkpoints", [])]
    output.table(rows, ["sequence", "type", "step", "created_at"], empty="no checkpoints")


@runs_group.command("cancel")
@click.argument("run_id")
@service_options
def runs_cancel(run_id: str, service_url: str | None, profile_name: str | None, as_json: bool) -> None:
    """Cancel a run (says so when it had already finished)."""
    client = make_client(service_url, profile_name)
    before = client.request("GET", f"/runs/{run_id}")
    run = client.request("POST", f"/runs/{run_id}/cancel")
    if as_json:
        output.emit_json(run)
    elif before.get("status") in SETTLED - {"blocked"}:
        click.echo(f"Run {run_id} had already finished ({before.get('status')}); nothing to cancel.")
    else:
        click.echo(f"Run {run_id} cancelled.")
