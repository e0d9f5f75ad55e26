"""docs/specs.md is executable: its files are written and its ``$ kneo …`` commands run, in order.

A console block's expected lines must appear in the command's output in order (``...`` skips
any lines). A command whose expected output has a ``✗`` line must exit 1, others exit 0.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kneo.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "specs.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CLEARED = ("KNEO_ENV", "KNEO_PROJECT_CONFIG", "KNEO_SERV_ALLOWED_MODULES", "KNEO_SERV_SPEC_SIGNING_KEY")


def commands(text: str) -> list[tuple[str, list[str]]]:
    """``(command line, expected output lines)`` of one console block."""
    found: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            assert found, f"output before any command: {line!r}"
            found[-1][1].append(line.rstrip())
    return found


def assert_lines_in_order(expected: list[str], actual: list[str], command: str) -> None:
    position = 0
    for line in expected:
        if line == "...":
            continue
        while position < len(actual) and actual[position] != line:
            position += 1
        assert position < len(actual), f"{command!r}: expected line not found in order: {line!r}\n" + "\n".join(actual)
        position += 1


def test_every_command_in_the_spec_docs_runs_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    exported: dict[str, str] = {}
    ran = 0
    for lang, body in BLOCK.findall(DOC.read_text()):
        first = body.splitlines()[0] if body else ""
        if lang == "yaml" and first.startswith("# file: "):
            target = tmp_path / first.removeprefix("# file: ").strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
            continue
        if lang != "console":
            continue
        for command, expected in commands(body):
            words = shlex.split(command)
            if words[0] == "export":
                key, _, value = words[1].partition("=")
                exported[key] = value
                continue
            env = dict(exported)
            while "=" in words[0]:
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            assert words[0] == "kneo", command
            result = CliRunner().invoke(cli, words[1:], env=env, catch_exceptions=False)
            wanted = 1 if any(line.startswith("✗") for line in expected) else 0
            assert result.exit_code == wanted, f"{command!r} exited {result.exit_code}:\n{result.output}"
            assert_lines_in_order(expected, result.output.splitlines(), command)
            ran += 1
    assert ran >= 15
