"""The import-linter contract (`.importlinter`) holds for the tree and breaks on a forbidden import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on ``tree`` (a checkout holding ``kneo/`` and ``.importlinter``)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo", "--config", ".importlinter"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "kneo", tree / "kneo", ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    models = tree / "kneo" / "models" / "base.py"
    models.write_text(models.read_text() + "\nfrom kneo.web import create_app  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kneo.models.base -> kneo.web" in result.stdout


def test_an_agent_importing_the_workflows_breaks_the_layers(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    executor = tree / "kneo" / "agents" / "executor.py"
    executor.write_text(executor.read_text() + "\nimport kneo.workflows.steps  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kneo.agents.executor -> kneo.workflows.steps" in result.stdout


def test_the_engine_importing_sqlalchemy_breaks_the_pure_core(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    engine = tree / "kneo" / "workflows" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport sqlalchemy  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kneo.workflows.engine is not allowed to import sqlalchemy" in result.stdout
