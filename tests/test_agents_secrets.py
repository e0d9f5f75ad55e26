"""Secret references, verbatim scrubbing of configured secret values, provider-secret startup checks."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kneo.config import ConfigError, load_agent_settings, load_settings
from kneo.redaction import REDACTED, SecretLogFilter, redact, refresh_secret_values, register_secret_env, scrub_secrets
from kneo.secrets import MissingSecretError, resolve_references
from tests.support.services import ROOT


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    refresh_secret_values()


def test_configured_secret_values_are_scrubbed_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "plain-looking-provider-key")
    monkeypatch.setenv("ACME_SERVICE_TOKEN", "acme-token-value")
    monkeypatch.setenv("KNEO_SERV_API_KEYS", "ops:ops-secret-key:operator")
    refresh_secret_values()
    text = "a plain-looking-provider-key b acme-token-value c ops-secret-key d operator"
    assert redact(text) == f"a {REDACTED} b {REDACTED} c {REDACTED} d operator"
    assert scrub_secrets({"x": [text], "n": 1, "email": "joe@corp.io"}) == {
        "x": [f"a {REDACTED} b {REDACTED} c {REDACTED} d operator"],
        "n": 1,
        "email": "joe@corp.io",
    }


def test_registered_and_listed_names_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODEL_KEYFILE", "registered-value-1")
    monkeypatch.setenv("MCP_PASSPHRASE", "listed-value-22")
    monkeypatch.setenv("KNEO_SERV_HEALTH_MCP_SECRETS", "MCP_PASSPHRASE")
    refresh_secret_values()
    assert redact("listed-value-22") == REDACTED
    assert redact("registered-value-1") == "registered-value-1"
    register_secret_env(["LOCAL_MODEL_KEYFILE"])
    assert redact("registered-value-1") == REDACTED


def test_short_values_are_not_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINY_TOKEN", "1")
    refresh_secret_values()
    assert redact("v1.0 costs 1") == "v1.0 costs 1"


def test_log_filter_redacts_messages_and_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGGED_API_KEY", "value-in-a-log-line")
    refresh_secret_values()
    try:
        raise RuntimeError("boom value-in-a-log-line")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "saw %s", ("value-in-a-log-line",), sys.exc_info())
    SecretLogFilter().filter(record)
    assert record.getMessage() == f"saw {REDACTED}"
    assert "value-in-a-log-line" not in (record.exc_text or "")


def test_env_references_resolve_and_register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_HEADER_VALUE", "header-secret-777")
    assert resolve_references("Bearer ${MY_HEADER_VALUE}", "mcp:x") == "Bearer header-secret-777"
    assert redact("header-secret-777") == REDACTED
    with pytest.raises(MissingSecretError, match="mcp:x:NOPE_NOT_SET"):
        resolve_references("${NOPE_NOT_SET}", "mcp:x")


def test_provider_settings_and_required_secrets() -> None:
    settings = load_agent_settings(
        {
            "KNEO_SERV_PROVIDER_TIMEOUT_SECONDS": "2.5",
            "KNEO_SERV_PROVIDER_RETRIES": "3",
            "KNEO_SERV_PROVIDER_RETRY_BACKOFF_SECONDS": "0.5",
            "KNEO_SERV_MCP_TIMEOUT_SECONDS": "4",
        }
    )
    assert (settings.provider_timeout_seconds, settings.provider_retries) == (2.5, 3)
    assert (settings.provider_retry_backoff_seconds, settings.mcp_timeout_seconds) == (0.5, 4.0)
    with pytest.raises(ConfigError):
        load_agent_settings({"KNEO_SERV_PROVIDER_RETRIES": "-1"})
    with pytest.raises(MissingSecretError, match="OPENAI_API_KEY"):
        load_settings({"KNEO_SERV_REQUIRE_PROVIDER_SECRETS": "true"})
    with pytest.raises(MissingSecretError, match="ANTHROPIC_API_KEY"):
        load_settings(
            {
                "KNEO_SERV_REQUIRE_PROVIDER_SECRETS": "1",
                "KNEO_SERV_HEALTH_PROVIDERS": "openai,anthropic",
                "OPENAI_API_KEY": "k" * 10,
            }
        )
    loaded = load_settings({"KNEO_SERV_REQUIRE_PROVIDER_SECRETS": "1", "OPENAI_API_KEY": "x"})
    assert loaded.agents.require_provider_secrets


@pytest.mark.slow  # starts the installed executables in subprocesses
@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-c", "import wsgi"],
        [sys.executable, "-m", "celery", "-A", "kneo.tasks", "worker", "--pool", "solo", "--loglevel", "WARNING"],
    ],
)
def test_web_and_worker_fail_fast_without_required_provider_key(argv: list[str], tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "KNEO_SERV_REQUIRE_PROVIDER_SECRETS": "true",
        "KNEO_SERV_STATE_DIR": str(tmp_path),
        "KNEO_SERV_BROKER_URL": "memory://",
    }
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Required" in done.stderr or "required" in done.stderr
    assert "OPENAI_API_KEY" in done.stderr
