#!/usr/bin/env python3
"""Render deploy/staging.env.example into a settings file, refusing to leave a placeholder.

Each ``NAME=value`` line takes, in order: ``--set NAME=VALUE``, the environment variable NAME,
the template's value. ``${OTHER}`` inside a value is replaced by OTHER's rendered value. The
result is refused (exit 1, nothing written) when a value is or contains a placeholder
(``CHANGE_ME``, ``changeme``, ``<...>``, ``TODO``) or an API key is unusable (``:``/``;``, < 16 chars).

    python scripts/render_staging_env.py --output deploy/staging.env --set POSTGRES_PASSWORD=... \\
        --set KNEO_SERV_ADMIN_API_KEY=... --set KNEO_OPERATOR_KEY=... ...
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "staging.env.example"
PLACEHOLDER = re.compile(r"CHANGE_ME|changeme|<[^>]*>|\bTODO\b|\bFIXME\b", re.IGNORECASE)
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KEY_NAMES = ("KNEO_SERV_ADMIN_API_KEY", "KNEO_OPERATOR_KEY", "KNEO_REVIEWER_KEY", "KNEO_VIEWER_KEY")
MIN_KEY_CHARS = 16


class RenderError(ValueError):
    """The settings cannot be rendered; lists every problem."""


def parse_template(text: str) -> list[tuple[str, str | None, str]]:
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


def render(template: str, overrides: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """The rendered file text, or :class:`RenderError` naming every placeholder left."""
    parsed = parse_template(template)
    raw: dict[str, str] = {}
    for _, name, value in parsed:
        if name is not None:
            raw[name] = overrides.get(name, environ.get(name, value))
    unknown = sorted(set(overrides) - set(raw))
    if unknown:
        raise RenderError(f"--set names not in the template: {', '.join(unknown)}")
    resolved: dict[str, str] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> str:
        if name in resolved:
            return resolved[name]
        if name in seen:
            raise RenderError(f"circular ${{}} reference: {' -> '.join((*seen, name))}")
        value = REFERENCE.sub(
            lambda m: resolve(m.group(1), (*seen, name)) if m.group(1) in raw else m.group(0), raw[name]
        )
        resolved[name] = value
        return value

    problems = []
    for name in raw:
        value = resolve(name)
        if PLACEHOLDER.search(value):
            problems.append(f"{name} is still a placeholder (set it with --set {name}=... or the environment)")
    for name in KEY_NAMES:
        key = resolved.get(name, "")
        if key and not PLACEHOLDER.search(key) and (len(key) < MIN_KEY_CHARS or set(key) & {":", ";"}):
            problems.append(f"{name} must be at least {MIN_KEY_CHARS} characters without ':' or ';'")
    if problems:
        raise RenderError("; ".join(problems))
    out = ["# Rendered by scripts/render_staging_env.py from deploy/staging.env.example; do not commit."]
    for line, name, _ in parsed:
        out.append(line if name is None else f"{name}={resolved[name]}")
    return "\n".join(out) + "\n"


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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(args.output, 0o600)
    print(f"✓ wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
