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
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo", ".importlinter"],
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


def inject(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_forbidden_imports_break_the_contracts(tmp_path: Path) -> None:
    """A model importing the web, an agent importing the workflows, the engine importing SQLAlchemy."""
    tree = copy_tree(tmp_path)
    inject(tree, "kneo.models.base", "from kneo.web import create_app")
    inject(tree, "kneo.agents.executor", "import kneo.workflows.steps")
    inject(tree, "kneo.workflows.engine", "import sqlalchemy")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kneo.models.base -> kneo.web" in result.stdout
    assert "kneo.agents.executor -> kneo.workflows.steps" in result.stdout
    assert "kneo.workflows.engine is not allowed to import sqlalchemy" in result.stdout
