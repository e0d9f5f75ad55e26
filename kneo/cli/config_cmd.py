"""``kneo config show|init|resolve|secrets|render-spec`` and ``kneo config profile set|use|list|show|delete``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kneo import project as projects
from kneo.cli import output, profiles
from kneo.cli.errors import CliError, json_errors
from kneo.cli.spec_common import SpecOptions, cli_errors, load_project, resolve, to_yaml, write_text
from kneo.secrets import PROVIDER_ENV, SERVICE_TOKENS, provider_reference, reference

CONFIG_PATH = Path(".kneo") / "config.yaml"
PROJECT_DIRS = ("artifacts", "logs", "cache")
TEMPLATE = """\
# kneo project config: spec defaults, per-environment overlays and policies (docs/specs.md).
project:
  name: {name}
  default_environment: dev
service:
  default_url: http://127.0.0.1:8000
specs:
  default_spec: examples/human_sequential_approval.yaml
  overlays: {{}}
model_defaults:
  prod: {{provider: openai, name: gpt-4o-mini, temperature: 0}}
policy_defaults:
  checkpointing: {{enabled: true, mode: step}}
secrets:
  provider_env: {{openai: OPENAI_API_KEY}}
retention:
  runs_days: null
environments:
  prod:
    policy_enforcement:
      require_human_review: true
"""


def json_option(command: Any) -> Any:
    def enable(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        json_errors(value)
        return value

    return click.option("--json", "as_json", is_flag=True, callback=enable, help="Print JSON (errors too).")(command)


@click.group("config")
def config_group() -> None:
    """Project config, resolved specs, secrets inventory and service profiles."""


@config_group.command("show")
@json_option
def config_show(as_json: bool) -> None:
    """The project config in effect (found from the working directory) and the active profile."""
    with cli_errors():
        project = load_project()
    active = profiles.active()
    view: dict[str, Any] = {
        "project_config": str(project.path) if project else None,
        "project": project.name if project else None,
        "root": str(project.root) if project else None,
        "default_environment": project.default_environment if project else "dev",
        "default_spec": project.default_spec if project else None,
        "service_url": (project.service or {}).get("default_url") if project else None,
        "environments": sorted(project.environments) if project else [],
        "active_profile": active.public(True) if active else None,
    }
    if as_json:
        output.emit_json(view)
        return
    if project is None:
        click.echo("no project config here (create one with: kneo config init)")
    output.fields([(k.replace("_", " "), v) for k, v in view.items()])


@config_group.command("init")
@click.option("--name", default="kneo-serv-project", show_default=True, help="The project's name.")
@click.option("--force", is_flag=True, help="Overwrite an existing .kneo/config.yaml.")
def config_init(name: str, force: bool) -> None:
    """Write .kneo/config.yaml (a commented template) and the .kneo/ work directories."""
    if CONFIG_PATH.exists() and not force:
        raise CliError(f"{CONFIG_PATH} already exists", hint="pass --force to overwrite it")
    write_text(str(CONFIG_PATH), TEMPLATE.format(name=name))
    for directory in PROJECT_DIRS:
        (CONFIG_PATH.parent / directory).mkdir(parents=True, exist_ok=True)
    click.echo(f"{output.ok('✓')} wrote {CONFIG_PATH}; check it with: kneo config show")


def secrets_inventory(environment: str | None) -> dict[str, Any]:
    """Provider keys and service tokens (present or not, never values), plus the project's references."""
    project = load_project()
    inventory: dict[str, Any] = {
        "environment": projects.select_environment(environment, project),
        "providers": {p: provider_reference(p) for p in PROVIDER_ENV},
        "service_tokens": {t: reference(f"service:{t}", t) for t in SERVICE_TOKENS},
    }
    if project is not None:
        refs = {**project.provider_env, **project.extra_env}
        inventory["project"] = {name: reference(f"project:{name}", var) for name, var in refs.items()}
    return inventory


@config_group.command("secrets")
@click.option("--env", "environment", metavar="ENV", help="Environment (default: $KNEO_ENV, the project's).")
@json_option
def config_secrets(environment: str | None, as_json: bool) -> None:
    """Which provider keys and service tokens this environment has (never their values)."""
    with cli_errors():
        inventory = secrets_inventory(environment)
    if as_json:
        output.emit_json(inventory)
        return
    click.echo(f"environment: {inventory['environment']}")
    rows = [
        {"section": section, "name": name, "env": ref.get("env_var"), "present": "yes" if ref.get("present") else "no"}
        for section, refs in inventory.items()
        if isinstance(refs, dict)
        for name, ref in refs.items()
    ]
    output.table(rows, ["section", "name", "env", "present"])


@config_group.command("resolve")
@click.option("--env", "environment", metavar="ENV", help="Environment (default: $KNEO_ENV, the project's).")
@click.option("--spec", "spec_path", metavar="PATH", help="The spec (default: specs.default_spec).")
@json_option
def config_resolve(environment: str | None, spec_path: str | None, as_json: bool) -> None:
    """Where the spec comes from for ENV: project, overlays, policy diagnostics, secrets inventory."""
    with cli_errors():
        resolution = resolve(SpecOptions(spec_path, as_json, environment, ()))
        view = {
            **resolution.describe(),
            "diagnostics": [d.to_dict() for d in resolution.diagnostics],
            "secrets": secrets_inventory(environment),
        }
    if as_json:
        output.emit_json(view)
        return
    output.fields([(k.replace("_", " "), v) for k, v in view.items() if k not in ("secrets", "diagnostics")])
    for d in view["diagnostics"]:
        click.echo(output.warn(f"⚠ {d['code']}: {d['message']}"))


@config_group.command("render-spec")
@click.option("-o", "--output", "output_path", required=True, metavar="PATH", help="Where to write the YAML.")
@click.option("--env", "environment", metavar="ENV", help="Environment (default: $KNEO_ENV, the project's).")
@click.option("--spec", "spec_path", metavar="PATH", help="The spec (default: specs.default_spec).")
def config_render_spec(output_path: str, environment: str | None, spec_path: str | None) -> None:
    """Write the spec resolved for ENV (overlays, defaults, policy) as YAML."""
    with cli_errors():
        resolution = resolve(SpecOptions(spec_path, False, environment, ()))
    write_text(output_path, to_yaml(resolution.spec))
    click.echo(f"{output.ok('✓')} wrote the {resolution.environment} spec to {output_path}")


@config_group.group("profile")
def profile_group() -> None:
    """Saved service URLs and keys (~/.kneo_serv/profiles.json, mode 600)."""


@profile_group.command("set")
@click.argument("name")
@click.option("--service-url", required=True, help="The service's base URL (http:// or https://).")
@click.option("--api-key", help="The key to send (stored in the profile file, mode 600).")
@click.option("--activate/--no-activate", default=True, show_default=True)
@json_option
def profile_set(name: str, service_url: str, api_key: str | None, activate: bool, as_json: bool) -> None:
    """Add or replace profile NAME."""
    if not service_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{service_url!r} needs a scheme, e.g. http://{service_url}", param_hint="--service-url"
        )
    profile = profiles.add(name, service_url, api_key, activate)
    active = profiles.load().get("active") == name
    if as_json:
        output.emit_json(profile.public(active))
    else:
        click.echo(f"Profile {name} saved{' and active' if active else ''} ({profiles.profiles_path()}).")


profile_group.add_command(profile_set, "add")


@profile_group.command("use")
@click.argument("name")
@json_option
def profile_use(name: str, as_json: bool) -> None:
    """Make NAME the active profile."""
    profile = profiles.use(name)
    if as_json:
        output.emit_json(profile.public(True))
    else:
        click.echo(f"Profile {name} is active ({profile.service_url}).")


@profile_group.command("list")
@json_option
def profile_list(as_json: bool) -> None:
    """Saved profiles (keys are never shown)."""
    rows = profiles.listing()
    if as_json:
        output.emit_json({"profiles": rows, "path": str(profiles.profiles_path())})
        return
    output.table(
        [
            {**r, "active": "*" if r["active"] else "", "authenticated": "yes" if r["authenticated"] else "no"}
            for r in rows
        ],
        ["active", "name", "service_url", "authenticated"],
        empty="no profiles (kneo config profile set NAME --service-url URL)",
    )


@profile_group.command("show")
@click.option("--name", help="The profile (default: the active one).")
@json_option
def profile_show(name: str | None, as_json: bool) -> None:
    """One profile (the active one by default); the key is never shown."""
    profile = profiles.get(name) if name else profiles.active()
    if profile is None:
        raise CliError("no active profile", hint="kneo config profile set NAME --service-url URL")
    view = profile.public(profiles.load().get("active") == profile.name)
    if as_json:
        output.emit_json(view)
    else:
        output.fields([(k.replace("_", " "), v) for k, v in view.items()])


@profile_group.command("delete")
@click.argument("name")
def profile_delete(name: str) -> None:
    """Delete profile NAME (the active profile becomes none)."""
    profiles.delete(name)
    click.echo(f"Profile {name} deleted.")
