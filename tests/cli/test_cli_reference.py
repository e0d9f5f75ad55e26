"""docs/cli.md is the command tree's ``--help``, and the tree has every command of contract §16."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from kneo.cli.main import cli
from kneo.cli.reference import HELP_WIDTH, commands, render
from tests.support.services import ROOT

KNEO = ROOT / ".venv" / "bin" / "kneo"
DOC = ROOT / "docs" / "cli.md"
# Contract §16 and the additions: every one must be in the tree.
EXPECTED = """
config show|init|resolve|secrets|render-spec
config profile set|use|list|show|delete
spec validate|lint|compile|resolve|migrate|policy-report
spec bundle sign|verify
run
runs list|get|trace|checkpoints|replay|checkpoint-diff|cancel|wait|watch|continue
human get|list|resume
audit list
service serve
"""


def documented() -> dict[str, str]:
    """``{"kneo runs get": help text}`` from docs/cli.md."""
    text = DOC.read_text()
    return dict(re.findall(r"^## `([^`]+)`\n\n```text\n(.*?)\n```$", text, flags=re.MULTILINE | re.DOTALL))


def test_reference_is_generated_from_the_tree() -> None:
    assert DOC.read_text() == render(), "regenerate: python -m kneo.cli.reference > docs/cli.md"


def test_every_contract_command_exists_and_is_documented() -> None:
    names = {" ".join(path) for path, _ in commands(cli)}
    for line in EXPECTED.strip().splitlines():
        *group, last = line.split()
        for leaf in last.split("|"):
            assert " ".join(["kneo", *group, leaf]) in names, (group, leaf)
    assert set(documented()) == names


# One command of each group (the reference itself is rendered from every command's --help).
SAMPLE = (
    "kneo",
    "kneo run",
    "kneo runs get",
    "kneo human resume",
    "kneo audit list",
    "kneo config profile set",
    "kneo spec validate",
    "kneo service serve",
)


@pytest.mark.slow  # starts the installed executables in subprocesses
def test_reference_matches_help_of_the_installed_command() -> None:
    env = {**os.environ, "COLUMNS": str(HELP_WIDTH)}

    def help_of(name: str) -> tuple[str, str]:
        result = subprocess.run([str(KNEO), *name.split()[1:], "--help"], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return name, result.stdout.rstrip("\n")

    with ThreadPoolExecutor(4) as pool:
        actual = dict(pool.map(help_of, SAMPLE))
    assert actual == {name: documented()[name] for name in SAMPLE}
