"""Every ``KNEO_SERV_*`` variable the 0.4 operation guide names changes what kneo does.

Each probe answers one observable question (an HTTP status of the app, a log line, a startup
refusal, a compose setting, …) once without the variable and once with it; the answers differ.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kneo.agents.provider import build_provider
from kneo.config import ConfigError, load_agent_settings, load_settings
from kneo.observability import settings as obs
from kneo.secrets import MissingSecretError
from kneo.web import create_app
from kneo.workflows.sweeps.retention import cutoffs
from tests.ops.test_ops_deploy import compose_checkout, compose_config
from tests.support.services import ROOT

# Every KNEO_SERV_* name in operation-guide-0.4 (the KNEO_SERV_RETENTION_* family is represented
# by the runs window the guide promises; the others are in tests/tasks/test_sweeps.py).
GUIDE_VARIABLES = (
    "KNEO_SERV_ADMIN_API_KEY",
    "KNEO_SERV_API_KEY",
    "KNEO_SERV_API_KEYS",
    "KNEO_SERV_AUTH_ENABLED",
    "KNEO_SERV_CLIENT_TIMEOUT",
    "KNEO_SERV_DATABASE_URL",
    "KNEO_SERV_ENV_FILE",
    "KNEO_SERV_HEALTH_MCP_SECRETS",
    "KNEO_SERV_HEALTH_PROVIDERS",
    "KNEO_SERV_LOG_LEVEL",
    "KNEO_SERV_MAX_BODY_BYTES",
    "KNEO_SERV_MAX_INLINE_SPEC_BYTES",
    "KNEO_SERV_MAX_METADATA_BYTES",
    "KNEO_SERV_MAX_OVERRIDES_BYTES",
    "KNEO_SERV_MCP_TIMEOUT_SECONDS",
    "KNEO_SERV_OTEL_ENABLED",
    "KNEO_SERV_OTEL_RECORD_ARGUMENTS",
    "KNEO_SERV_OTEL_RECORD_RESULTS",
    "KNEO_SERV_PORT",
    "KNEO_SERV_PROVIDER_TIMEOUT_SECONDS",
    "KNEO_SERV_REQUEST_LOGS",
    "KNEO_SERV_REQUIRE_PROVIDER_SECRETS",
    "KNEO_SERV_RETENTION_RUNS_DAYS",
    "KNEO_SERV_SPEC_SIGNING_KEY",
)
SPEC = {"version": "v1", "agent": {"name": "probe", "runtime_preferences": {"preferred_mode": "bridge"}}}
BROKEN = {"version": "v1", "workflow": {"type": "sequential", "steps": []}}

Env = dict[str, str]
Probe = Callable[[Env], Any]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in [n for n in os.environ if n.startswith("KNEO_SERV_")]:
        monkeypatch.delenv(name)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "KNEO_GUIDE_ABSENT_SECRET", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


def _app_status(method: str, path: str, body: Any = None, key: str | None = None) -> Probe:
    """The HTTP status and error message of one request to an in-process app built from the settings
    (or the startup refusal)."""

    def probe(env: Env) -> Any:
        try:
            app = create_app(load_settings(env))
        except ConfigError as exc:
            return f"refused: {exc}"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        answer = app.test_client().open(path, method=method, json=body, headers=headers)
        detail = (answer.get_json(silent=True) or {}).get("detail")
        return answer.status_code, detail.get("message") if isinstance(detail, dict) else None

    return probe


def _request_log(env: Env) -> list[tuple[str, str]]:
    """(level, event) of the request log lines one GET /healthz writes."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("kneo_serv.service")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        create_app(load_settings(env)).test_client().get("/healthz")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return [(r.levelname, json.loads(r.getMessage())["event"]) for r in records]


def _startup(env: Env) -> str:
    try:
        load_settings(env)
    except (ConfigError, MissingSecretError) as exc:
        return f"refused: {exc}"
    return "started"


def _gunicorn_timeout(env: Env) -> Any:
    """The worker timeout deploy/gunicorn.conf.py gives gunicorn (a sync run may wait that long)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["timeout"], load_settings(env).client_timeout
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _compose(env: Env) -> Mapping[str, Any]:
    """The api service of ``docker compose --env-file deploy/production.env config``."""
    with tempfile.TemporaryDirectory() as tmp:
        checkout = compose_checkout(Path(tmp))
        return dict(compose_config("--env-file", "deploy/production.env", env=env, cwd=checkout)["services"]["api"])


def _cli_key(env: Env) -> Any:
    from kneo.cli.client import make_client

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return make_client("http://127.0.0.1:9", None).api_key
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _provider_timeout(env: Env) -> float:
    """The per-attempt timeout the native provider would give a model call."""
    agent = {"name": "a", "model": {"provider": "openai", "name": "m"}}
    os.environ["OPENAI_API_KEY"] = "sk-probe"
    try:
        return build_provider(agent, load_agent_settings(env), None).timeout
    finally:
        del os.environ["OPENAI_API_KEY"]


PROBES: dict[str, tuple[Env, Probe]] = {
    "KNEO_SERV_ADMIN_API_KEY": ({"KNEO_SERV_ADMIN_API_KEY": "admin-key-0123456789"}, _app_status("GET", "/v1/runs")),
    "KNEO_SERV_API_KEY": ({"KNEO_SERV_API_KEY": "cli-key-0123456789"}, _cli_key),
    "KNEO_SERV_API_KEYS": ({"KNEO_SERV_API_KEYS": "ops:op-key-0123456789:operator"}, _app_status("GET", "/v1/runs")),
    "KNEO_SERV_AUTH_ENABLED": ({"KNEO_SERV_AUTH_ENABLED": "true"}, _startup),
    "KNEO_SERV_CLIENT_TIMEOUT": ({"KNEO_SERV_CLIENT_TIMEOUT": "30"}, _gunicorn_timeout),
    "KNEO_SERV_DATABASE_URL": (
        {"KNEO_SERV_DATABASE_URL": "postgresql://kneo@127.0.0.1:5432/kneo"},
        lambda env: (load_settings(env).sqlalchemy_url, load_settings(env).broker_url),
    ),
    "KNEO_SERV_ENV_FILE": (
        {"KNEO_SERV_ENV_FILE": "deploy/staging.env.example"},
        lambda env: _compose(env)["environment"]["KNEO_SERV_API_KEYS"],
    ),
    "KNEO_SERV_HEALTH_MCP_SECRETS": (
        {"KNEO_SERV_HEALTH_MCP_SECRETS": "KNEO_GUIDE_ABSENT_SECRET"},
        _app_status("GET", "/readyz"),
    ),
    "KNEO_SERV_HEALTH_PROVIDERS": ({"KNEO_SERV_HEALTH_PROVIDERS": "anthropic"}, _app_status("GET", "/readyz")),
    "KNEO_SERV_LOG_LEVEL": ({"KNEO_SERV_LOG_LEVEL": "WARNING"}, _request_log),
    "KNEO_SERV_MAX_BODY_BYTES": (
        {"KNEO_SERV_MAX_BODY_BYTES": "64"},
        _app_status("POST", "/v1/specs/validate", {"spec": SPEC}),
    ),
    "KNEO_SERV_MAX_INLINE_SPEC_BYTES": (
        {"KNEO_SERV_MAX_INLINE_SPEC_BYTES": "64"},
        _app_status("POST", "/v1/specs/validate", {"spec": SPEC}),
    ),
    "KNEO_SERV_MAX_METADATA_BYTES": (
        {"KNEO_SERV_MAX_METADATA_BYTES": "16"},
        _app_status("POST", "/v1/runs", {"input": "x", "spec": BROKEN, "metadata": {"ticket": "x" * 64}}),
    ),
    "KNEO_SERV_MAX_OVERRIDES_BYTES": (
        {"KNEO_SERV_MAX_OVERRIDES_BYTES": "16"},
        _app_status("POST", "/v1/runs", {"input": "x", "spec": BROKEN, "overrides": {"agent": {"name": "y" * 64}}}),
    ),
    "KNEO_SERV_MCP_TIMEOUT_SECONDS": (
        {"KNEO_SERV_MCP_TIMEOUT_SECONDS": "7"},
        lambda env: load_agent_settings(env).mcp_timeout_seconds,
    ),
    "KNEO_SERV_OTEL_ENABLED": ({"KNEO_SERV_OTEL_ENABLED": "true"}, obs.otel_enabled),
    "KNEO_SERV_OTEL_RECORD_ARGUMENTS": ({"KNEO_SERV_OTEL_RECORD_ARGUMENTS": "true"}, obs.record_arguments),
    "KNEO_SERV_OTEL_RECORD_RESULTS": ({"KNEO_SERV_OTEL_RECORD_RESULTS": "true"}, obs.record_results),
    "KNEO_SERV_PORT": ({"KNEO_SERV_PORT": "9180"}, lambda env: _compose(env)["ports"]),
    "KNEO_SERV_PROVIDER_TIMEOUT_SECONDS": ({"KNEO_SERV_PROVIDER_TIMEOUT_SECONDS": "9"}, _provider_timeout),
    "KNEO_SERV_REQUEST_LOGS": ({"KNEO_SERV_REQUEST_LOGS": "false"}, _request_log),
    "KNEO_SERV_REQUIRE_PROVIDER_SECRETS": ({"KNEO_SERV_REQUIRE_PROVIDER_SECRETS": "true"}, _startup),
    "KNEO_SERV_RETENTION_RUNS_DAYS": (
        {"KNEO_SERV_RETENTION_RUNS_DAYS": "7"},
        lambda env: sorted(cutoffs(__import__("datetime").datetime(2030, 1, 1), load_settings(env).retention, 60)),
    ),
    "KNEO_SERV_SPEC_SIGNING_KEY": (
        {"KNEO_SERV_SPEC_SIGNING_KEY": "signing-key-0123456789"},
        lambda env: _startup({"KNEO_SERV_REQUIRE_SIGNED_BUNDLES": "*", **env}),
    ),
}


def test_every_guide_variable_has_a_probe() -> None:
    guide_names = set(GUIDE_VARIABLES)
    assert set(PROBES) == guide_names
    documented = (ROOT / "docs" / "operations" / "configuration.md").read_text()
    missing = sorted(name for name in guide_names if name not in documented)
    assert not missing, f"docs/operations/configuration.md does not describe {missing}"


@pytest.mark.parametrize("name", GUIDE_VARIABLES)
def test_guide_variable_changes_behaviour(name: str, state: Path) -> None:
    setting, probe = PROBES[name]
    base = {"KNEO_SERV_STATE_DIR": str(state / "state")}
    without, with_it = probe(base), probe({**base, **setting})
    assert without != with_it, f"{name}={setting[name]} changed nothing: {without!r}"
