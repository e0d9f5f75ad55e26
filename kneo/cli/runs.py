"""``kneo run`` and ``kneo runs list|get|wait|watch|trace|checkpoints|replay|checkpoint-diff|continue|cancel``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from kneo.cli import output
from kneo.cli.client import Client, service_options
from kneo.cli.errors import CliError

SETTLED = frozenset({"completed", "failed", "cancelled", "expired", "timed_out", "blocked"})
STATUSES = ("running", "blocked", "completed", "failed", "cancelled", "expired", "timed_out")


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


def step_label(run: dict[str, Any]) -> str:
    """Where a run is, for progress lines: ``at step review (2 done)`` or ``2 steps done, last draft``."""
    visited = run.get("visited_steps") or run.get("visited_nodes") or []
    current = run.get("current_step_id") or run.get("current_node_id")
    if current:
        return f"at step {current} ({len(visited)} done)"
    if visited:
        return f"{len(visited)} step{'s' * (len(visited) != 1)} done, last {visited[-1]}"
    return "starting"


def wait_for_run(
    client: Client, run_id: str, timeout: float, interval: float = 0.3, watch: bool = False
) -> dict[str, Any]:
    """Poll until the run is terminal or blocked; progress shows the step it is at.

    With ``watch``, every step change is printed as a line on stderr (also when not on a terminal).
    """
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    with output.progress(f"run {run_id[:8]}") as show:
        while True:
            run: dict[str, Any] = client.request("GET", f"/runs/{run_id}")
            label = step_label(run)
            show(f"run {run_id[:8]} {run.get('status')}: {label}")
            if watch:
                for step in (run.get("visited_steps") or run.get("visited_nodes") or [])[len(seen) :]:
                    seen.append(step)
                    click.echo(f"{output.ok('✓')} {step}", err=True)
            if run.get("status") in SETTLED:
                return run
            if time.monotonic() > deadline:
                raise CliError(
                    f"run {run_id} is still {run.get('status')} ({label}) after {timeout:g}s",
                    hint=f"kneo runs wait {run_id[:8]}",
                )
            time.sleep(interval)


def show_run(run: dict[str, Any]) -> None:
    """What a person came for: status, input, output, where it stopped, what to do next."""
    run_id = run.get("run_id") or run.get("id")
    metadata = run.get("metadata") or {}
    error = run.get("error") or {}
    steps = run.get("visited_steps") or run.get("visited_nodes")
    request = run.get("pending_human_request") or metadata.get("request") or {}
    output.fields(
        [
            ("Run", run_id),
            ("Status", output.status(run.get("status"))),
            ("Workflow", run.get("workflow_name") or (metadata.get("workflow") or {}).get("name")),
            ("Agent", run.get("agent_name") or metadata.get("agent_name")),
            ("Input", run.get("input_text")),
            ("Output", run.get("output_text")),
            ("Steps done", ", ".join(steps) if steps else None),
            ("Created", run.get("created_at")),
            ("Finished", run.get("completed_at")),
            ("Error", f"{error.get('message')} ({error.get('type')})" if error else None),
            ("Failed step", run.get("failed_step") if run.get("status") == "failed" else None),
            ("Waiting for", request.get("title") if run.get("status") == "blocked" else None),
            ("Continuation", run.get("continuation_id") if run.get("status") == "blocked" else None),
        ],
        skip_empty=True,
    )
    if run.get("status") == "blocked":
        continuation = run.get("continuation_id")
        click.echo(
            output.warn(f"⚠ human intervention required: kneo human get {continuation}")
            + f"\n  decide with: kneo human resume {continuation} --approve",
            err=True,
        )


def read_input(input_text: str | None, input_file: Path | None) -> str:
    """``-i TEXT``, ``-i -`` (stdin) or ``--input-file FILE``: exactly one."""
    if (input_text is None) == (input_file is None):
        raise click.UsageError("give the run's input with exactly one of -i/--input TEXT (- for stdin), --input-file")
    if input_file is not None:
        try:
            return input_file.read_text()
        except OSError as exc:
            raise click.UsageError(f"cannot read {input_file}: {exc.strerror}") from None
    return sys.stdin.read() if input_text == "-" else str(input_text)


def finish(run: dict[str, Any], as_json: bool) -> None:
    """Print the run; exit 1 when it failed, was cancelled, expired or timed out."""
    if as_json:
        output.emit_json(run)
    else:
        show_run(run)
    if run.get("status") in SETTLED - {"completed", "blocked"}:
        raise SystemExit(1)


@click.command("run")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-i", "--input", "input_text", metavar="TEXT", help="The run's input text ('-' reads stdin).")
@click.option(
    "--input-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the run's input from this file."
)
@click.option("--target", type=click.Choice(["workflow", "agent"]), default="workflow", show_default=True)
@click.option("--async", "async_mode", is_flag=True, help="Return at once with the queued run id.")
@click.option("--wait", is_flag=True, help="With --async: still wait (the default without --async).")
@click.option("--environment", "--env", help="Environment label and policy.")
@service_options
def run_command(
    spec_path: Path,
    input_text: str | None,
    input_file: Path | None,
    target: str,
    async_mode: bool,
    wait: bool,
    environment: str | None,
    client: Client,
    as_json: bool,
) -> None:
    """Run SPEC_PATH on the service and wait until it completes or pauses (options in any order).

    Exit status: 0 completed or blocked (waiting for a human), 1 failed or the spec file is
    missing, 2 usage error.
    """
    text = read_input(input_text, input_file)
    if not spec_path.is_file():
        raise CliError(f"Spec file not found: {spec_path}", code="spec_not_found")
    body: dict[str, Any] = {
        "input": text,
        "spec": load_spec(spec_path),
        "target": target,
        "async_mode": True,
    }
    if environment:
        body["environment"] = environment
    run = client.request("POST", "/runs", json=body)
    if async_mode and not wait:
        if as_json:
            output.emit_json(run)
        else:
            click.echo(f"Run {run['run_id']} queued; follow it with: kneo runs watch {run['run_id'][:8]}")
        return
    finish(wait_for_run(client, run["run_id"], client.timeout), as_json)


@click.group("runs")
def runs_group() -> None:
    """Inspect, follow, continue and cancel runs (RUN_ID may be a unique prefix)."""


@runs_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10000), default=0)
@click.option("-q", "--quiet", is_flag=True, help="Print only the run ids, one a line.")
@service_options
def runs_list(status: str | None, limit: int, offset: int, quiet: bool, client: Client, as_json: bool) -> None:
    """The most recently updated runs, newest first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    body = client.request("GET", "/runs", params=params)
    if as_json:
        output.emit_json(body)
        return
    if quiet:
        for run in body.get("runs", []):
            click.echo(run.get("id") or run.get("run_id"))
        return
    rows = [
        {
            **r,
            "run": r.get("id") or r.get("run_id"),
            "workflow": r.get("workflow_name") or r.get("agent_name"),
        }
        for r in body.get("runs", [])
    ]
    output.table(rows, ["run", "status", "workflow", "updated_at"], empty="no runs")
    click.echo(f"{body.get('count', len(rows))} of {body.get('total', len(rows))} runs")


@runs_group.command("get")
@click.argument("run_id")
@service_options
def runs_get(run_id: str, client: Client, as_json: bool) -> None:
    """One run: status, input, output, steps done, error, the failed step and what it waits for."""
    full = client.run_id(run_id)
    run = client.request("GET", f"/runs/{full}")
    if run.get("status") == "failed" and not as_json:
        context = client.request("GET", f"/runs/{full}/replay").get("replay_context") or {}
        run["failed_step"] = context.get("failed_step") or context.get("failed_node")
    if as_json:
        output.emit_json(run)
    else:
        show_run(run)


@runs_group.command("wait")
@click.argument("run_id")
@click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds to wait (default $KNEO_SERV_CLIENT_TIMEOUT).")
@service_options
def runs_wait(run_id: str, timeout: float | None, client: Client, as_json: bool) -> None:
    """Wait until the run completes, fails or pauses for a human; exit 1 unless completed or blocked."""
    finish(wait_for_run(client, client.run_id(run_id), timeout or client.timeout), as_json)


@runs_group.command("watch")
@click.argument("run_id")
@click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds to watch (default $KNEO_SERV_CLIENT_TIMEOUT).")
@service_options
def runs_watch(run_id: str, timeout: float | None, client: Client, as_json: bool) -> None:
    """Print each step as it completes, then the run (as `runs wait`)."""
    finish(wait_for_run(client, client.run_id(run_id), timeout or client.timeout, watch=True), as_json)


@runs_group.command("trace")
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@service_options
def runs_trace(run_id: str, limit: int, client: Client, as_json: bool) -> None:
    """The run's trace events, oldest first, with input/output previews and errors."""
    body = client.request("GET", f"/runs/{client.run_id(run_id)}/trace", params={"limit": limit})
    if as_json:
        output.emit_json(body)
        return
    rows = [
        {
            "time": str(e.get("timestamp") or "")[11:23],
            "type": e.get("type") or e.get("event_type"),
            "step": e.get("step_id") or e.get("tool_name") or e.get("agent_name"),
            "detail": _error_text(e.get("error")) or e.get("output_preview") or e.get("input_preview"),
        }
        for e in body.get("events", [])
    ]
    output.table(rows, ["time", "type", "step", "detail"], empty="no trace events")


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        return f"error: {error.get('message') or error.get('type')}"
    return f"error: {error}"


@runs_group.command("checkpoints")
@click.argument("run_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@service_options
def runs_checkpoints(run_id: str, limit: int, client: Client, as_json: bool) -> None:
    """The run's checkpoints, by sequence."""
    body = client.request("GET", f"/runs/{client.run_id(run_id)}/checkpoints", params={"limit": limit})
    if as_json:
        output.emit_json(body)
        return
    rows = [
        {**c, "step": c.get("step_id") or c.get("node_id"), "status": (c.get("state") or {}).get("status")}
        for c in body.get("checkpoints", [])
    ]
    output.table(rows, ["sequence", "type", "step", "status", "created_at"], empty="no checkpoints")


@runs_group.command("replay")
@click.argument("run_id")
@service_options
def runs_replay(run_id: str, client: Client, as_json: bool) -> None:
    """The run's checkpoint timeline and whether it can be continued."""
    body = client.request("GET", f"/runs/{client.run_id(run_id)}/replay")
    if as_json:
        output.emit_json(body)
        return
    context = body.get("replay_context") or {}
    output.fields(
        [
            ("Run", body.get("run_id")),
            ("Status", output.status(body.get("status"))),
            ("Workflow", body.get("workflow_name")),
            ("Checkpoints", body.get("checkpoint_count")),
            ("Completed steps", ", ".join(context.get("completed_steps") or []) or None),
            ("Failed step", context.get("failed_step")),
            ("Can continue", context.get("can_continue")),
        ],
        skip_empty=True,
    )
    click.echo("")
    output.table(
        [{**t, "step": t.get("step_id") or t.get("node_id")} for t in body.get("timeline", [])],
        ["sequence", "type", "step", "status"],
        empty="no checkpoints",
    )


@runs_group.command("checkpoint-diff")
@click.argument("run_id")
@click.option("--from-sequence", type=click.IntRange(min=1), help="Older checkpoint (default: the first).")
@click.option("--to-sequence", type=click.IntRange(min=1), help="Newer checkpoint (default: the last).")
@service_options
def runs_checkpoint_diff(
    run_id: str, from_sequence: int | None, to_sequence: int | None, client: Client, as_json: bool
) -> None:
    """What changed in the run's state between two checkpoints."""
    params = {k: v for k, v in (("from_sequence", from_sequence), ("to_sequence", to_sequence)) if v is not None}
    body = client.request("GET", f"/runs/{client.run_id(run_id)}/checkpoints/diff", params=params)
    if as_json:
        output.emit_json(body)
        return
    before, after = body.get("from_checkpoint") or {}, body.get("to_checkpoint") or {}
    click.echo(
        f"checkpoint {before.get('sequence')} ({before.get('type')}) → {after.get('sequence')} ({after.get('type')}):"
        f" {body.get('change_count', 0)} changes{' (truncated)' if body.get('truncated') else ''}"
    )
    rows = [
        *({"change": "+", "path": a["path"], "value": a.get("value")} for a in body.get("added", [])),
        *({"change": "-", "path": r["path"], "value": r.get("value")} for r in body.get("removed", [])),
        *(
            {"change": "~", "path": c["path"], "value": f"{_short(c.get('before'))} → {_short(c.get('after'))}"}
            for c in body.get("changed", [])
        ),
    ]
    output.table(rows, ["change", "path", "value"], empty="no changes")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


@runs_group.command("continue")
@click.argument("run_id")
@service_options
def runs_continue(run_id: str, client: Client, as_json: bool) -> None:
    """Continue a failed sequential run from its failed step (see `kneo runs replay`) and wait for it."""
    full = client.run_id(run_id)
    with output.progress(f"continuing run {full[:8]}"):
        client.request("POST", f"/runs/{full}/continue")
    finish(wait_for_run(client, full, client.timeout), as_json)


@runs_group.command("cancel")
@click.argument("run_id")
@service_options
def runs_cancel(run_id: str, client: Client, as_json: bool) -> None:
    """Cancel a run (says so when it had already finished)."""
    full = client.run_id(run_id)
    before = client.request("GET", f"/runs/{full}")
    run = client.request("POST", f"/runs/{full}/cancel")
    if as_json:
        output.emit_json(run)
    elif before.get("status") in SETTLED - {"blocked"}:
        click.echo(f"Run {full} had already finished ({before.get('status')}); nothing to cancel.")
    else:
        click.echo(f"Run {full} cancelled.")
