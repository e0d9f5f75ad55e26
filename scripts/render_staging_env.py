#!/usr/bin/env python3
"""Render deploy/staging.env from the ``KNEO_STAGING_*`` environment and validate it.

Each ``NAME=value`` line of ``deploy/staging.env.example`` takes, in order: ``--set NAME=VALUE``,
the environment variable ``KNEO_STAGING_<NAME>`` (``KNEO_SERV_`` dropped from NAME, so
``KNEO_STAGING_API_KEYS`` fills ``KNEO_SERV_API_KEYS`` and ``KNEO_STAGING_POSTGRES_PASSWORD`` fills
``POSTGRES_PASSWORD``), the template's value. ``${OTHER}`` inside a value is replaced by OTHER's
rendered value. Nothing is written (exit 1) when the result fails :func:`validate`: a required
setting is missing, a placeholder is left, the scoped roles are incomplete, payload telemetry
capture is on or provider secret checks are off.

    export KNEO_STAGING_API_KEYS="operator:<token>:operator;reviewer:<token>:reviewer;viewer:<token>:viewer"
    export KNEO_STAGING_ADMIN_API_KEY=... KNEO_STAGING_SPEC_SIGNING_KEY=... KNEO_STAGING_DATABASE_URL=...
    export KNEO_STAGING_POSTGRES_PASSWORD=... KNEO_STAGING_OTEL_EXPORTER_OTLP_ENDPOINT=...
    export KNEO_STAGING_OPENAI_API_KEY=... KNEO_STAGING_MCP_API_KEY=...
    python scripts/render_staging_env.py --output deploy/staging.env
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from kneo.startup import MIN_KEY_CHARS, PAYLOAD_CAPTURE, PLACEHOLDER

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "staging.env.example"
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TRUTHY = frozenset({"1", "true", "yes", "on"})
REQUIRED = (
    "KNEO_SERV_DATABASE_URL",
    "KNEO_SERV_API_KEYS",
    "KNEO_SERV_ADMIN_API_KEY",
    "KNEO_SERV_SPEC_SIGNING_KEY",
    "POSTGRES_PASSWORD",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OPENAI_API_KEY",
    "MCP_API_KEY",
)
SCOPED_ROLES = ("operator", "reviewer", "viewer")


class RenderError(ValueError):
    """The settings are not usable for staging; lists every problem."""


def staging_variable(name: str) -> str:
    """The ``KNEO_STAGING_*`` variable that supplies the setting ``name``."""
    return "KNEO_STAGING_" + name.removeprefix("KNEO_SERV_")


def parse_lines(text: str) -> list[tuple[str, str | None, str]]:
    """``(line, name, value)`` per line; name is None for comments and blank lines."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            lines.append((line, None, ""))
            continue
        name, value = stripped.split("=", 1)
        lines.append((line, name.strip(), value))
    return lines


def resolve(raw: Mapping[str, str]) -> dict[str, str]:
    """Every value with its ``${NAME}`` references to other values replaced."""
    resolved: dict[str, str] = {}

    def value_of(name: str, seen: tuple[str, ...] = ()) -> str:
        if name in resolved:
            return resolved[name]
        if name in seen:
            raise RenderError(f"circular ${{}} reference: {' -> '.join((*seen, name))}")
        value = REFERENCE.sub(
            lambda m: value_of(m.group(1), (*seen, name)) if m.group(1) in raw else m.group(0), raw[name]
        )
        resolved[name] = value
        return value

    for name in raw:
        value_of(name)
    return resolved


def read_env_file(path: Path) -> dict[str, str]:
    """The settings of an env file, references resolved."""
    return resolve({name: value for _, name, value in parse_lines(path.read_text()) if name is not None})


def api_key_roles(api_keys: str) -> dict[str, str]:
    """The first key of each role named in ``KNEO_SERV_API_KEYS`` (``name:key:role[,role]`` entries)."""
    keys: dict[str, str] = {}
    for entry in api_keys.split(";"):
        parts = [part.strip() for part in entry.split(":")]
        if len(parts) != 3 or not all(parts):
            continue
        for role in parts[2].split(","):
            keys.setdefault(role.strip(), parts[1])
    return keys


def validate(values: Mapping[str, str]) -> list[str]:
    """The reasons ``values`` are not a usable staging configuration (empty when they are)."""
    problems = [f"{name} is required (set {staging_variable(name)})" for name in REQUIRED if not values.get(name)]
    problems += [
        f"{name} is still a placeholder (set {staging_variable(name)})"
        for name, value in values.items()
        if PLACEHOLDER.search(value)
    ]
    entries = [entry for entry in (values.get("KNEO_SERV_API_KEYS") or "").split(";") if entry.strip()]
    malformed = [entry for entry in entries if len([p for p in entry.split(":") if p.strip()]) != 3]
    if malformed:
        problems.append("KNEO_SERV_API_KEYS entries must be name:key:role[,role] separated by ';'")
    roles = api_key_roles(values.get("KNEO_SERV_API_KEYS") or "")
    missing = [role for role in SCOPED_ROLES if role not in roles]
    if values.get("KNEO_SERV_API_KEYS") and missing:
        problems.append(f"KNEO_SERV_API_KEYS lacks the scoped role(s) {', '.join(missing)}")
    keys = [*roles.values(), values.get("KNEO_SERV_ADMIN_API_KEY") or ""]
    if any(key and not PLACEHOLDER.search(key) and len(key) < MIN_KEY_CHARS for key in keys):
        problems.append(f"API keys must be at least {MIN_KEY_CHARS} characters")
    signing_key = values.get("KNEO_SERV_SPEC_SIGNING_KEY") or ""
    if signing_key and signing_key in keys:
        problems.append("KNEO_SERV_SPEC_SIGNING_KEY must differ from every API key")
    problems += [
        f"{name} must stay false in staging (payload telemetry capture)"
        for name in PAYLOAD_CAPTURE
        if (values.get(name) or "").strip().lower() in TRUTHY
    ]
    if (values.get("KNEO_SERV_REQUIRE_PROVIDER_SECRETS") or "").strip().lower() not in TRUTHY:
        problems.append("KNEO_SERV_REQUIRE_PROVIDER_SECRETS must be true in staging (provider secret checks)")
    return problems


def render(template: str, overrides: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """The rendered file text, or :class:`RenderError` naming every problem."""
    parsed = parse_lines(template)
    raw = {
        name: overrides.get(name, environ.get(staging_variable(name), value))
        for _, name, value in parsed
        if name is not None
    }
    unknown = sorted(set(overrides) - set(raw))
    if unknown:
        raise RenderError(f"--set names not in the template: {', '.join(unknown)}")
    resolved = resolve(raw)
    problems = validate(resolved)
    if problems:
        raise RenderError("; ".join(problems))
    out = ["# Rendered by scripts/render_staging_env.py from deploy/staging.env.example; do not commit."]
    out += [line if name is None else f"{name}={resolved[name]}" for line, name, _ in parsed]
    return "\n".join(out) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--output", type=Path, required=True, help="where to write the settings (mode 600)")
    parser.add_argument("--set", dest="values", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.values:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects NAME=VALUE, got {item!r}")
        overrides[name.strip()] = value
    try:
        text = render(args.template.read_text(), overrides, os.environ)
    except RenderError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    write_private(args.output, text)
    print(f"✓ wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
