"""Settings of the agent runtimes: model providers, MCP calls and the operator's sandbox allow-lists."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kneo.config_values import (
    ConfigError,
    broker_url_of,
    csv_values,
    is_truthy,
    non_negative,
    positive_float,
)
from kneo.sandbox import SERVICE_PREFIX, CommandRule, Sandbox, parse_commands, parse_origin

EXAMPLE_MCP_SERVER = "examples/agents/mcp_server.py"


@dataclass(frozen=True)
class AgentSettings:
    """Model-provider and MCP call settings of the native runtime (contract §15)."""

    provider_timeout_seconds: float | None = None
    provider_retries: int = 0
    provider_retry_backoff_seconds: float = 0.0
    require_provider_secrets: bool = False
    mcp_timeout_seconds: float | None = None
    mcp_retries: int = 0
    mcp_retry_backoff_seconds: float = 0.0
    sandbox: Sandbox = field(default_factory=Sandbox)


def load_agent_settings(environ: Mapping[str, str] | None = None) -> AgentSettings:
    """The provider/MCP settings; with KNEO_SERV_REQUIRE_PROVIDER_SECRETS, a missing provider key fails here."""
    env = os.environ if environ is None else environ
    agents = AgentSettings(
        provider_timeout_seconds=positive_float(env, "KNEO_SERV_PROVIDER_TIMEOUT_SECONDS", None),
        provider_retries=int(non_negative(env, "KNEO_SERV_PROVIDER_RETRIES", 0, int)),
        provider_retry_backoff_seconds=non_negative(env, "KNEO_SERV_PROVIDER_RETRY_BACKOFF_SECONDS", 0.0),
        require_provider_secrets=is_truthy(env.get("KNEO_SERV_REQUIRE_PROVIDER_SECRETS")),
        mcp_timeout_seconds=positive_float(env, "KNEO_SERV_MCP_TIMEOUT_SECONDS", None),
        mcp_retries=int(non_negative(env, "KNEO_SERV_MCP_RETRIES", 0, int)),
        mcp_retry_backoff_seconds=non_negative(env, "KNEO_SERV_MCP_RETRY_BACKOFF_SECONDS", 0.0),
        sandbox=load_sandbox(env),
    )
    if agents.require_provider_secrets:
        from kneo.secrets import require_provider_secrets

        require_provider_secrets(csv_values(env, "KNEO_SERV_HEALTH_PROVIDERS") or ("openai",), env)
    return agents


def load_sandbox(environ: Mapping[str, str] | None = None) -> Sandbox:
    """The operator's allow-lists for what specs may spawn, reach and resolve."""
    env = os.environ if environ is None else environ
    try:
        origins = tuple(parse_origin(item) for item in csv_values(env, "KNEO_SERV_OUTBOUND_ALLOWLIST"))
        commands = parse_commands(env.get("KNEO_SERV_MCP_COMMANDS") or "")
        path = (env.get("KNEO_SERV_MCP_COMMANDS_FILE") or "").strip()
        if path:
            commands += parse_commands(Path(path).read_text())
    except (ValueError, OSError) as exc:
        raise ConfigError(f"Invalid sandbox allow-list: {exc}") from None
    if not commands and broker_url_of(env).startswith("memory://"):
        commands = example_commands()
    secrets = frozenset(csv_values(env, "KNEO_SERV_SECRET_ALLOWLIST"))
    if service := sorted(s for s in secrets if s.upper().startswith(SERVICE_PREFIX)):
        raise ConfigError(f"KNEO_SERV_SECRET_ALLOWLIST may not list service settings: {', '.join(service)}")
    return Sandbox(commands=commands, outbound=origins, secrets=secrets)


def example_commands() -> tuple[CommandRule, ...]:
    """The embedded default trusts the project's own example MCP server, as it trusts its modules."""
    return tuple(CommandRule(python, (EXAMPLE_MCP_SERVER,)) for python in ("python", "python3", sys.executable))
