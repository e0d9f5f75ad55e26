"""``scripts/ensure_test_services.sh``: what ``make test`` runs first to install and start its needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.services import ROOT, free_port

SCRIPT = ROOT / "scripts" / "ensure_test_services.sh"
TOOLS = ("bash", "pg_isready", "redis-cli", "psql", "grep", "seq", "sleep", "ls", "head", "apt-get", "openssl")


def ensure(tmp_path: Path, hide: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script in a dry run with a PATH of the usual tools, less ``hide``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in (*TOOLS, "redis-server", "nginx", "chromium", "chromedriver"):
        found = shutil.which(tool, path=os.environ["PATH"] + ":/usr/sbin:/sbin")
        if tool not in hide and found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    full = {**os.environ, "PATH": str(bin_dir), "KNEO_ENSURE_EXTRA_PATH": "", "KNEO_ENSURE_DRY_RUN": "1", **env}
    return subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120)


def test_everything_present_and_running_does_nothing(tmp_path: Path) -> None:
    result = ensure(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_real_run_is_idempotent_when_everything_runs() -> None:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "would" not in result.stderr and "start" not in result.stderr and "install" not in result.stderr


def test_missing_nginx_is_installed_with_apt(tmp_path: Path) -> None:
    result = ensure(tmp_path, hide=("nginx",))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "ensure: would install nginx (apt-get)"


def test_missing_browser_and_driver_are_installed_with_apt(tmp_path: Path) -> None:
    result = ensure(tmp_path, hide=("chromium", "chromedriver"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "ensure: would install chromium (apt-get)",
        "ensure: would install chromium-driver (apt-get)",
    ]


def test_missing_tools_without_apt_fail_clearly(tmp_path: Path) -> None:
    result = ensure(tmp_path, hide=("nginx", "apt-get"))
    assert result.returncode == 1
    assert "nginx is missing and apt-get is not available to install nginx" in result.stderr


def test_redis_down_is_started(tmp_path: Path) -> None:
    port = free_port()
    result = ensure(tmp_path, KNEO_ENSURE_REDIS_PORT=str(port))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"ensure: would start Redis on 127.0.0.1:{port}"


def test_postgres_down_is_started(tmp_path: Path) -> None:
    port = free_port()
    result = ensure(tmp_path, KNEO_ENSURE_PG_PORT=str(port))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"ensure: would start PostgreSQL {_cluster()}/main on 127.0.0.1:{port}"


def test_make_test_runs_the_script_and_ci_runs_make_test() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "test: install test-services" in makefile and "scripts/ensure_test_services.sh" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _cluster() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]


def test_missing_postgres_is_installed_with_loopback_trust(tmp_path: Path) -> None:
    result = ensure(tmp_path, hide=("pg_isready",))
    assert result.returncode == 0, result.stderr
    cluster = _cluster()
    assert result.stderr.splitlines()[:2] == [
        "ensure: would install postgresql postgresql-client (apt-get)",
        f"ensure: would trust loopback connections in PostgreSQL {cluster}/main",
    ]
