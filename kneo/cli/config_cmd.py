"""``kneo config secrets`` and ``kneo config profile add|use|list``."""

from __future__ import annotations

import click

from kneo.cli import output, profiles
from kneo.secrets import PROVIDER_ENV, SERVICE_TOKENS, provider_reference, reference


@click.group("config")
def config_group() -> None:
    """Local configuration: secrets inventory and service profiles."""


@config_group.command("secrets")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_secrets(as_json: bool) -> None:
    """Which provider keys and service tokens this environment has (never their values)."""
    inventory = {
        "providers": {p: provider_reference(p) for p in PROVIDER_ENV},
        "service_tokens": {t: reference(f"service:{t}", t) for t in SERVICE_TOKENS},
    }
    if as_json:
        output.emit_json(inventory)
        return
    rows = [
        {"section": section, "name": name, "env": ref.get("env_var"), "present": "yes" if ref.get("present") else "no"}
        for section, refs in inventory.items()
        for name, ref in refs.items()
    ]
    output.table(rows, ["section", "name", "env", "present"])


@config_group.group("profile")
def profile_group() -> None:
    """Saved service URLs and keys (~/.kneo_serv/profiles.json, mode 600)."""


@profile_group.command("add")
@click.argument("name")
@click.option("--service-url", required=True, help="The service's base URL.")
@click.option("--api-key", help="The key to send (stored in the profile file, mode 600).")
@click.option("--activate/--no-activate", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def profile_add(name: str, service_url: str, api_key: str | None, activate: bool, as_json: bool) -> None:
    """Add or replace profile NAME."""
    profile = profiles.add(name, service_url, api_key, activate)
    active = profiles.load().get("active") == name
    if as_json:
        output.emit_json(profile.public(active))
    else:
        click.echo(f"Profile {name} saved{' and active' if active else ''} ({profiles.profiles_path()}).")


profile_group.add_command(profile_add, "set")


@profile_group.command("use")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def profile_use(name: str, as_json: bool) -> None:
    """Make NAME the active profile."""
    profile = profiles.use(name)
    if as_json:
        output.emit_json(profile.public(True))
    else:
        click.echo(f"Profile {name} is active ({profile.service_url}).")


@profile_group.command("list")
@click.option("--json", "as_json", is_flag=True)
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
        empty="no profiles (kneo config profile add NAME --service-url URL)",
    )
