"""``kneo spec validate|lint|compile|explain|graph|policy-report|resolve|migrate`` (local, pure).

Every command resolves the project context first (config, environment, overlays, defaults,
environment policy — spec-format §1 steps 1-4) and then runs the pure compiler in-process;
nothing is imported and no service is contacted. Exit codes: 0 ok, 1 the spec fails the
command's check, 2 usage error.
"""

from __future__ import annotations

from typing import Any

import click

from kneo import project as projects
from kneo import specs
from kneo.cli import output
from kneo.cli.spec_bundle import bundle_group
from kneo.cli.spec_common import (
    SpecOptions,
    cli_errors,
    counts,
    diagnostics_table,
    display_path,
    fail,
    load_context,
    resolve,
    spec_options,
    spec_root,
    to_yaml,
    write_text,
)
from kneo.sandbox import SkillRoot
from kneo.specs.migrate import source_version
from kneo.workflows.kinds.layout import workflow_graph

PARSE_SUGGESTION = "Check the YAML/JSON syntax."


@click.group("spec")
def spec_group() -> None:
    """Validate, lint, compile, explain, graph, migrate, resolve and sign workflow specs (locally)."""


def validation(opts: SpecOptions) -> tuple[bool, list[dict[str, Any]], str]:
    """``(valid, diagnostics, label)``; a parse failure is one ``E_SCHEMA`` diagnostic (as over HTTP)."""
    project, environment, source = load_context(opts)
    label = display_path(source)
    try:
        raw = projects.read_spec(source)
    except specs.SpecParseError as exc:
        return False, [specs.Diagnostic("E_SCHEMA", "error", exc.message, None, PARSE_SUGGESTION).to_dict()], label
    resolution = projects.resolve_document(raw, project, environment, allowed_modules=opts.allowed_modules)
    if opts.remote:
        report = opts.request("/specs/validate", resolution.spec)
        found = [d.to_dict() for d in resolution.diagnostics] + list(report.get("diagnostics", []))
        return bool(report.get("valid")), found, label
    report = specs.validate_document(resolution.spec, allowed_modules=opts.allowed_modules)
    diagnostics = [d.to_dict() for d in [*resolution.diagnostics, *report.diagnostics]]
    return report.valid, diagnostics, label


@spec_group.command("validate")
@spec_options(remote=True)
def validate_command(opts: SpecOptions) -> None:
    """Validate SPEC; exit 1 when it has an error diagnostic. JSON: {valid, diagnostics}."""
    with cli_errors():
        valid, diagnostics, label = validation(opts)
    if opts.as_json:
        output.emit_json({"valid": valid, "diagnostics": diagnostics})
    else:
        diagnostics_table(diagnostics)
    if not valid:
        fail(f"{label} is invalid ({counts(diagnostics)})", diagnostics)
    if not opts.as_json:
        click.echo(f"✓ {label} is valid ({counts(diagnostics)})")


@spec_group.command("lint")
@spec_options(remote=True)
def lint_command(opts: SpecOptions) -> None:
    """Warnings and errors of SPEC; exit 1 when there is any. JSON: {clean, warning_count, error_count, diagnostics}."""
    with cli_errors():
        _valid, diagnostics, label = validation(opts)
    found = [d for d in diagnostics if d["severity"] in ("error", "warning")]
    payload = {
        "clean": not found,
        "warning_count": sum(1 for d in found if d["severity"] == "warning"),
        "error_count": sum(1 for d in found if d["severity"] == "error"),
        "diagnostics": found,
    }
    if opts.as_json:
        output.emit_json(payload)
    else:
        diagnostics_table(found)
    if found:
        fail(f"{label} is not clean ({counts(found)})", found)
    if not opts.as_json:
        click.echo(f"✓ {label} is clean")


def _compile(opts: SpecOptions, what: str) -> tuple[projects.Resolution, dict[str, Any]]:
    """Resolve and compile; on error diagnostics print them and exit 1."""
    with cli_errors():
        resolution = resolve(opts)
        try:
            plan = specs.compile_document(
                resolution.spec, allowed_modules=opts.allowed_modules, skills=SkillRoot(spec_root(resolution))
            )
        except specs.SpecInvalid as exc:
            found = [d.to_dict() for d in exc.diagnostics]
            if opts.as_json:
                output.emit_json({"ok": False, "diagnostics": found})
            else:
                diagnostics_table(found)
            lines = "\n".join(f"ERROR {d['code']}: {d['message']}" for d in found if d["severity"] == "error")
            fail(f"{display_path(resolution.source)} does not {what}:\n{lines}", found)
    return resolution, plan


@spec_group.command("compile")
@spec_options(remote=True)
def compile_command(opts: SpecOptions) -> None:
    """Compile SPEC to a plan (nothing is imported); exit 1 on any error. JSON: {ok, summary, diagnostics}."""
    if opts.remote:
        with cli_errors():
            resolution = resolve(opts)
        compiled = opts.request("/specs/compile", resolution.spec)
        summary = compiled["summary"]
        diagnostics = [d.to_dict() for d in resolution.diagnostics] + list(compiled.get("diagnostics", []))
    else:
        resolution, _plan = _compile(opts, "compile")
        with cli_errors():
            summary = specs.compile_summary(resolution.spec)
            report = specs.validate_document(resolution.spec, allowed_modules=opts.allowed_modules)
        diagnostics = [d.to_dict() for d in [*resolution.diagnostics, *report.diagnostics]]
    if opts.as_json:
        output.emit_json({"ok": True, "summary": summary, "diagnostics": diagnostics})
        return
    diagnostics_table(diagnostics)
    agents = ", ".join(summary["component_agents"]) or "none"
    workflow = "with a root workflow" if summary["has_root_workflow"] else "without a root workflow"
    click.echo(f"✓ {display_path(resolution.source)} compiles ({workflow}; component agents: {agents})")


@spec_group.command("explain")
@spec_options()
def explain_command(opts: SpecOptions) -> None:
    """Names of the root agent, root workflow and component agents. JSON: {summary}."""
    with cli_errors():
        result = specs.explain_document(resolve(opts).spec)
    if opts.as_json:
        output.emit_json(result)
        return
    summary = result["summary"]
    output.fields(
        [
            ("Root agent", summary["root_agent"]),
            ("Root workflow", summary["root_workflow"]),
            ("Component agents", ", ".join(summary["component_agents"]) or None),
        ]
    )


@spec_group.command("graph")
@spec_options()
def graph_command(opts: SpecOptions) -> None:
    """Nodes and edges of SPEC's root workflow (as POST /v1/specs/graph). JSON: {workflow, nodes, edges}."""
    _resolution, plan = _compile(opts, "compile")
    graph = workflow_graph(plan)
    if opts.as_json:
        output.emit_json(graph)
        return
    meta = graph["workflow"]
    click.echo(f"Workflow: {meta['name']} ({meta['type']})" if meta else "Workflow: none (the root agent runs alone)")
    output.table(
        [{**n, "start": "*" if n.get("start") else ""} for n in graph["nodes"]], ["start", "id", "kind", "ref"]
    )
    if graph["edges"]:
        click.echo("")
        output.table(graph["edges"], ["from", "to", "label"])


@spec_group.command("policy-report")
@spec_options(remote=True)
def policy_report_command(opts: SpecOptions) -> None:
    """The governance report (tools, guardrails, memory, human review); exit 1 when the schema fails."""
    with cli_errors():
        resolution = resolve(opts)
        if opts.remote:
            report = opts.request("/specs/policy-report", resolution.spec)["report"]
        else:
            report = specs.policy_report(resolution.spec, allowed_modules=opts.allowed_modules)["report"]
    if opts.as_json:
        output.emit_json(report)
    elif report["valid"]:
        output.fields([(k.replace("_", " "), v) for k, v in report["summary"].items()])
        click.echo("")
        output.table(report["tools"]["agent_policies"], ["agent", "include", "unrestricted"], empty="(no agents)")
        review = report["human_review"]
        click.echo(f"\nhuman review: required={review['required']} missing={review['missing']}")
        output.table(review["requirements"], ["code", "path", "reason"], empty="(no requirements)")
    else:
        diagnostics_table(report["diagnostics"])
    if not report["valid"]:
        fail(f"{display_path(resolution.source)} fails schema validation")


@spec_group.command("resolve")
@click.option("-o", "--output", "output_path", metavar="FILE", help="Write the YAML here instead of stdout.")
@spec_options()
def resolve_command(opts: SpecOptions, output_path: str | None) -> None:
    """The spec after overlays, project defaults and environment policy, as YAML."""
    with cli_errors():
        resolution = resolve(opts)
    payload: dict[str, Any] = {
        **resolution.describe(),
        "diagnostics": [d.to_dict() for d in resolution.diagnostics],
        "spec": resolution.spec,
    }
    for d in resolution.diagnostics:
        click.echo(f"⚠ {d.code}: {d.message}", err=True)
    if output_path:
        payload["output"] = str(write_text(output_path, to_yaml(resolution.spec)))
    if opts.as_json:
        output.emit_json(payload)
    elif output_path:
        click.echo(f"✓ wrote the {resolution.environment} spec to {output_path}")
    else:
        click.echo(to_yaml(resolution.spec), nl=False)


@spec_group.command("migrate")
@click.option("-o", "--output", "output_path", metavar="FILE", help="Write the migrated YAML here.")
@click.option("--check", is_flag=True, help="Only report; exit 1 when a migration is needed.")
@spec_options()
def migrate_command(opts: SpecOptions, output_path: str | None, check: bool) -> None:
    """Convert a legacy (v0 / unversioned) spec to v1 (no overlays or defaults).

    JSON: {source_version, target_version, changed, applied, spec}.
    """
    with cli_errors():
        _project, _environment, source = load_context(opts)
        raw = projects.read_spec(source)
        version = source_version(raw)
        migrated, applied = specs.migrate_document(raw)
    label = display_path(source)
    payload: dict[str, Any] = {
        "source_version": version,
        "target_version": "v1",
        "changed": bool(applied),
        "applied": applied,
    }
    if check:
        if opts.as_json:
            output.emit_json(payload)
        else:
            for line in applied:
                click.echo(f"- {line}")
        if applied:
            fail(f"{label} needs migration ({len(applied)} change{'s' * (len(applied) != 1)})")
        if not opts.as_json:
            click.echo(f"✓ {label} is already v1")
        return
    payload["spec"] = migrated
    if output_path:
        payload["output"] = str(write_text(output_path, to_yaml(migrated)))
    if opts.as_json:
        output.emit_json(payload)
    elif output_path:
        click.echo(f"✓ wrote {output_path} ({len(applied)} change{'s' * (len(applied) != 1)})")
    else:
        click.echo(to_yaml(migrated), nl=False)


spec_group.add_command(bundle_group)
