"""The CLI reference (docs/cli.md) generated from the command tree: ``python -m kneo.cli.reference``."""

from __future__ import annotations

from collections.abc import Iterator

import click

HELP_WIDTH = 80
HEADER = """# `kneo` command reference

Generated from the command tree by `python -m kneo.cli.reference > docs/cli.md`; a test checks
that it matches `--help`. Exit status everywhere: 0 ok, 1 failure (the message starts with ✗, with
a `hint:` line when there is something to try), 2 usage error. With `--json`, results are JSON on
stdout and failures `{"ok": false, "error": {...}}` on stderr.

Commands that talk to the service pick it from `--service-url`, else `--profile`, else
`$KNEO_SERV_URL`, else the project config's `service.default_url`, else the active profile, else
`http://127.0.0.1:8000`; the key from `--api-key`, else the profile, else `$KNEO_SERV_API_KEY`.
A RUN_ID may be a unique prefix of a recent run's id (the first 8 characters are usually enough).
"""


def commands(group: click.Group, path: tuple[str, ...] = ("kneo",)) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group``, depth first, each once (aliases are skipped)."""
    yield path, group
    seen: set[int] = set()
    for name in sorted(group.commands):
        command = group.commands[name]
        if id(command) in seen or command.name != name:
            continue
        seen.add(id(command))
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def help_text(path: tuple[str, ...]) -> str:
    """What ``kneo … --help`` prints for the command at ``path`` on an 80-column terminal."""
    from click.testing import CliRunner

    from kneo.cli.main import cli

    # click wraps help two columns short of the terminal's width.
    result = CliRunner().invoke(cli, [*path[1:], "--help"], prog_name="kneo", terminal_width=HELP_WIDTH - 2)
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip("\n")


def render() -> str:
    from kneo.cli.main import cli

    sections = [HEADER]
    for path, _command in commands(cli):
        sections.append(f"## `{' '.join(path)}`\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    print(render(), end="")
