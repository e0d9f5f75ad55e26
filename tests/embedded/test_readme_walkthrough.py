"""The README walkthrough, verbatim, on a fresh clone against ``kneo serve`` (as ``make serve`` starts it)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded.server import EmbeddedServer
from tests.support.cli import field
from tests.support.services import ROOT

pytestmark = pytest.mark.e2e


def walkthrough(readme: str) -> str:
    """The first ``bash`` block under the README's ``## Walkthrough`` heading."""
    section = readme.split("\n## Walkthrough\n", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert found, "the README has no walkthrough block"
    return found.group(1)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the commit under test; the virtualenv is reused (installing takes minutes)."""
    target = tmp_path_factory.mktemp("fresh") / "kneo"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", commit.stdout.strip()], check=True)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


@pytest.fixture(scope="module")
def served(clone: Path) -> Iterator[EmbeddedServer]:
    """``kneo serve`` in the clone with no setting at all (the state lands in the clone's .kneo/)."""
    server = EmbeddedServer(clone / ".serve-logs", cwd=clone)
    server.env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_") and k != "PYTHONPATH"}
    server.start()
    yield server
    assert server.stop() == 0


def test_readme_walkthrough_verbatim(clone: Path, served: EmbeddedServer) -> None:
    script = walkthrough((clone / "README.md").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_") and k != "PYTHONPATH"}
    # Only where the service listens differs from the README's default port 8000.
    env.update(KNEO_SERV_URL=served.base_url, KNEO_SERV_PROFILES_PATH=str(clone / ".profiles.json"))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Output      Published: Final answer: Outline: hello kneo" in out
    assert "human intervention required" in result.stderr
    assert field(out, "Under review") == "Draft: Release notes for 1.2"
    assert field(out, "Output").startswith("Published: Final answer")
    assert out.count("Published: Draft: Release notes for 1.2") == 2  # after the decision, and in `runs get`
    assert "human_intervention_requested" in out and "workflow_completed" in out
    assert (clone / ".kneo" / "kneo_runs.sqlite").is_file()
    assert "Traceback" not in result.stderr + served.log_path.read_text()
