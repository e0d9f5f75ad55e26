"""Settings read from the environment (``KNEO_SERV_*``), validated once.

This module is the single source of configuration for the web app, the Celery
worker and beat (through ``celeryconfig.py``) and the CLI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

from kneo.auth.keys import ApiKeyRecord, parse_api_keys
from kneo.environments import normalise_environment
from kneo.sandbox import SERVICE_PREFIX, CommandRule, Sandbox, SkillRoot, parse_commands, parse_origin
from kneo.specs.bounds import SpecBounds

TRUTHY = frozenset({"1", "true", "yes", "on"})
LOG_LEVELS = frozenset({"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"})
DEFAULT_SQLITE_PATH = Path(".kneo") / "kneo_runs.sqlite"
EXAMPLE_MCP_SERVER = "examples/agents/mcp_server.py"
DEFAULT_SKILL_MAX_BYTES = 262_144
EXAMPLES_PACKAGE = "examples"


class ConfigError(RuntimeError):
    """A setting is malformed; raised at startup."""


def is_truthy(value: str | None) -> bool:
    """Return True for the contract's truthy spellings."""
    return value is not None and value.strip().lower() in TRUTHY


def _is_falsy(value: str | None) -> bool:
    """True when a flag is present, not blank and not truthy (an explicit "off")."""
    return value is not None and value.strip() != "" and not is_truthy(value)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer.") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero.")
    return value


def _optional_days(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number.") from None
    if value < 0:
        raise ConfigError(f"{name} must be zero or greater.")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number.") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero.")
    return value


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Limits:
    """Request limits of contract §5."""

    max_body_bytes: int = 1_048_576
    max_input_chars: int = 20_000
    max_human_content_chars: int = 20_000
    max_inline_spec_bytes: int = 262_144
    max_overrides_bytes: int = 65_536
    max_metadata_bytes: int = 32_768
    max_list_items: int = 100
    max_path_chars: int = 4_096


@dataclass(frozen=True)
class Retention:
    """Retention windows in days; None never prunes that category."""

    runs_days: float | None = None
    checkpoints_days: float | None = None
    trace_days: float | None = None
    audit_days: float | None = None
    idempotency_days: float | None = None


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


@dataclass(frozen=True)
class ConsoleSettings:
    """The browser console's session cookie."""

    secret: str | None = None
    secure_cookie: bool = False
    session_minutes: int = 480


@dataclass(frozen=True)
class Settings:
    """Every setting the platform reads, with the contract's defaults."""

    database_url: str | None = None
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    broker_url: str = "memory://"
    api_keys: tuple[ApiKeyRecord, ...] = ()
    auth_enabled: bool = False
    auth_opt_out: bool = False
    deployment: str = ""
    limits: Limits = field(default_factory=Limits)
    spec_bounds: SpecBounds = field(default_factory=SpecBounds)
    request_logs: bool = True
    log_level: str = "INFO"
    client_timeout: float = 120.0
    step_timeout_seconds: int = 300
    lease_grace_seconds: int = 15
    max_step_attempts: int = 5
    reconcile_interval_seconds: float = 5.0
    reconcile_stale_seconds: float = 5.0
    human_sweep_interval_seconds: float = 5.0
    deadline_sweep_interval_seconds: float = 5.0
    retention_sweep_interval_seconds: float = 3600.0
    retention: Retention = field(default_factory=Retention)
    allowed_modules: tuple[str, ...] = ()
    spec_root: Path = field(default_factory=Path.cwd)
    skills: SkillRoot = field(default_factory=lambda: SkillRoot(None))
    health_providers: tuple[str, ...] = ()
    health_mcp_secrets: tuple[str, ...] = ()
    otel_enabled: bool = False
    idempotency_ttl_seconds: int = 86_400
    idempotency_lease_seconds: int = 150
    agents: AgentSettings = field(default_factory=AgentSettings)
    require_signed_bundles: tuple[str, ...] = ()
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    default_environment: str | None = None

    @property
    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL: PostgreSQL when configured, else the embedded SQLite file."""
        if self.database_url:
            url = self.database_url
            for plain in ("postgres://", "postgresql://"):
                if url.startswith(plain):
                    url = "postgresql+psycopg2://" + url[len(plain) :]
            return url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def embedded(self) -> bool:
        """True when the platform runs without any external server."""
        return self.broker_url.startswith("memory://")

    def redacted_summary(self) -> dict[str, object]:
        """A loggable view of the settings with no secret in it."""
        return {
            "database": "postgresql" if self.database_url else f"sqlite:{self.sqlite_path}",
            "broker": self.broker_url.split("@")[-1],
            "auth_enabled": self.auth_enabled,
            "api_keys": len(self.api_keys),
        }


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from the environment, raising :class:`ConfigError` on bad values."""
    env = os.environ if environ is None else environ
    try:
        records = parse_api_keys(env.get("KNEO_SERV_API_KEYS"), env.get("KNEO_SERV_ADMIN_API_KEY"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    auth_enabled = is_truthy(env.get("KNEO_SERV_AUTH_ENABLED")) or bool(records)
    if auth_enabled and not records:
        raise ConfigError(
            "KNEO service auth is enabled but no API keys are configured. "
            "Set KNEO_SERV_API_KEYS or KNEO_SERV_ADMIN_API_KEY."
        )
    log_level = (env.get("KNEO_SERV_LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"Invalid KNEO_SERV_LOG_LEVEL: {env.get('KNEO_SERV_LOG_LEVEL')}")
    database_url = (env.get("KNEO_SERV_DATABASE_URL") or "").strip() or None
    state_dir = _state_dir(env)
    broker_url = _broker_url(env)
    spec_root = Path(env.get("KNEO_SERV_SPEC_ROOT") or Path.cwd()).resolve()
    allowed_modules = _csv(env, "KNEO_SERV_ALLOWED_MODULES")
    if broker_url.startswith("memory://"):
        allowed_modules += tuple(m for m in examples_package(spec_root) if m not in allowed_modules)
    return Settings(
        database_url=database_url,
        sqlite_path=state_dir / DEFAULT_SQLITE_PATH.name,
        broker_url=broker_url,
        api_keys=records,
        auth_enabled=auth_enabled,
        auth_opt_out=_is_falsy(env.get("KNEO_SERV_AUTH_ENABLED")),
        deployment=(env.get("KNEO_SERV_DEPLOYMENT") or "").strip().lower(),
        limits=_load_limits(env),
        spec_bounds=_load_spec_bounds(env),
        request_logs=(env.get("KNEO_SERV_REQUEST_LOGS") is None) or is_truthy(env.get("KNEO_SERV_REQUEST_LOGS")),
        log_level=log_level,
        client_timeout=_positive_float(env, "KNEO_SERV_CLIENT_TIMEOUT", 120.0) or 120.0,
        step_timeout_seconds=_positive_int(env, "KNEO_SERV_STEP_TIMEOUT_SECONDS", 300),
        lease_grace_seconds=_positive_int(env, "KNEO_SERV_LEASE_GRACE_SECONDS", 15),
        max_step_attempts=_positive_int(env, "KNEO_SERV_MAX_STEP_ATTEMPTS", 5),
        reconcile_interval_seconds=_positive_float(env, "KNEO_SERV_RECONCILE_INTERVAL_SECONDS", 5.0) or 5.0,
        reconcile_stale_seconds=_positive_float(env, "KNEO_SERV_RECONCILE_STALE_SECONDS", 5.0) or 5.0,
        human_sweep_interval_seconds=_positive_float(env, "KNEO_SERV_HUMAN_SWEEP_INTERVAL_SECONDS", 5.0) or 5.0,
        deadline_sweep_interval_seconds=_positive_float(env, "KNEO_SERV_DEADLINE_SWEEP_INTERVAL_SECONDS", 5.0) or 5.0,
        retention_sweep_interval_seconds=_positive_float(env, "KNEO_SERV_RETENTION_SWEEP_INTERVAL_SECONDS", 3600.0)
        or 3600.0,
        retention=Retention(
            runs_days=_optional_days(env, "KNEO_SERV_RETENTION_RUNS_DAYS"),
            checkpoints_days=_optional_days(env, "KNEO_SERV_RETENTION_CHECKPOINTS_DAYS"),
            trace_days=_optional_days(env, "KNEO_SERV_RETENTION_TRACE_DAYS"),
            audit_days=_optional_days(env, "KNEO_SERV_RETENTION_AUDIT_DAYS"),
            idempotency_days=_optional_days(env, "KNEO_SERV_RETENTION_IDEMPOTENCY_DAYS"),
        ),
        allowed_modules=allowed_modules,
        spec_root=spec_root,
        skills=SkillRoot(
            _skills_root(env, spec_root, state_dir),
            _positive_int(env, "KNEO_SERV_SKILL_MAX_BYTES", DEFAULT_SKILL_MAX_BYTES),
        ),
        health_providers=_csv(env, "KNEO_SERV_HEALTH_PROVIDERS"),
        health_mcp_secrets=_csv(env, "KNEO_SERV_HEALTH_MCP_SECRETS"),
        otel_enabled=is_truthy(env.get("KNEO_SERV_OTEL_ENABLED")),
        idempotency_ttl_seconds=_positive_int(env, "KNEO_SERV_IDEMPOTENCY_TTL_SECONDS", 86_400),
        idempotency_lease_seconds=_positive_int(
            env,
            "KNEO_SERV_IDEMPOTENCY_LEASE_SECONDS",
            int(_positive_float(env, "KNEO_SERV_CLIENT_TIMEOUT", 120.0) or 120) + 30,
        ),
        agents=load_agent_settings(env),
        require_signed_bundles=_signed_bundle_environments(env),
        trusted_proxies=_networks(env, "KNEO_SERV_TRUSTED_PROXIES"),
        console=ConsoleSettings(
            secret=(env.get("KNEO_SERV_CONSOLE_SECRET") or "").strip() or None,
            secure_cookie=is_truthy(env.get("KNEO_SERV_CONSOLE_SECURE_COOKIE")),
            session_minutes=_positive_int(env, "KNEO_SERV_CONSOLE_SESSION_MINUTES", 480),
        ),
        default_environment=normalise_environment(env.get("KNEO_SERV_DEFAULT_ENVIRONMENT")),
    )


def _state_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("KNEO_SERV_STATE_DIR") or ".kneo")


def _broker_url(env: Mapping[str, str]) -> str:
    """KNEO_SERV_BROKER_URL, else Redis on loopback with a database URL, else the embedded in-memory broker."""
    default = "redis://127.0.0.1:6379/0" if (env.get("KNEO_SERV_DATABASE_URL") or "").strip() else "memory://"
    return (env.get("KNEO_SERV_BROKER_URL") or "").strip() or default


def _skills_root(env: Mapping[str, str], spec_root: Path, state_dir: Path) -> Path | None:
    """KNEO_SERV_SKILLS_ROOT, else the spec root; never the state directory nor one containing it.

    An explicit root that holds the state directory is a configuration error; a default one
    disables skill sources (None).
    """
    raw = (env.get("KNEO_SERV_SKILLS_ROOT") or "").strip()
    root = Path(raw).resolve() if raw else spec_root
    state = state_dir.resolve()
    if state == root or state.is_relative_to(root) or root.is_relative_to(state):
        if raw:
            raise ConfigError(f"KNEO_SERV_SKILLS_ROOT may not be or contain the state directory ({state}).")
        return None
    return root


def load_sandbox(environ: Mapping[str, str] | None = None) -> Sandbox:
    """The operator's allow-lists for what specs may spawn, reach and resolve."""
    env = os.environ if environ is None else environ
    try:
        origins = tuple(parse_origin(item) for item in _csv(env, "KNEO_SERV_OUTBOUND_ALLOWLIST"))
        commands = parse_commands(env.get("KNEO_SERV_MCP_COMMANDS") or "")
        path = (env.get("KNEO_SERV_MCP_COMMANDS_FILE") or "").strip()
        if path:
            commands += parse_commands(Path(path).read_text())
    except (ValueError, OSError) as exc:
        raise ConfigError(f"Invalid sandbox allow-list: {exc}") from None
    if not commands and _broker_url(env).startswith("memory://"):
        commands = _example_commands()
    secrets = frozenset(_csv(env, "KNEO_SERV_SECRET_ALLOWLIST"))
    if service := sorted(s for s in secrets if s.upper().startswith(SERVICE_PREFIX)):
        raise ConfigError(f"KNEO_SERV_SECRET_ALLOWLIST may not list service settings: {', '.join(service)}")
    return Sandbox(commands=commands, outbound=origins, secrets=secrets)


def _example_commands() -> tuple[CommandRule, ...]:
    """The embedded default trusts the project's own example MCP server, as it trusts its modules."""
    return tuple(CommandRule(python, (EXAMPLE_MCP_SERVER,)) for python in ("python", "python3", sys.executable))


def _networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A CSV of addresses or CIDR networks (``10.0.0.5, 172.16.0.0/12``)."""
    try:
        return tuple(ip_network(item, strict=False) for item in _csv(env, name))
    except ValueError:
        raise ConfigError(f"{name} must list IP addresses or networks separated by commas.") from None


def examples_package(spec_root: Path) -> tuple[str, ...]:
    """``("examples",)`` when the spec root holds the project's example package, else ``()``.

    The embedded default (``kneo serve``) trusts it so the examples run with no settings; a
    deployment with a broker keeps the explicit ``KNEO_SERV_ALLOWED_MODULES`` list only.
    """
    return (EXAMPLES_PACKAGE,) if (spec_root / EXAMPLES_PACKAGE / "functions.py").is_file() else ()


def _signed_bundle_environments(env: Mapping[str, str]) -> tuple[str, ...]:
    """KNEO_SERV_REQUIRE_SIGNED_BUNDLES (environments, ``*`` = all); they need the signing key."""
    listed = tuple(normalise_environment(name) or name for name in _csv(env, "KNEO_SERV_REQUIRE_SIGNED_BUNDLES"))
    if listed and not (env.get("KNEO_SERV_SPEC_SIGNING_KEY") or "").strip():
        raise ConfigError("KNEO_SERV_REQUIRE_SIGNED_BUNDLES is set but KNEO_SERV_SPEC_SIGNING_KEY is not.")
    return listed


def _non_negative(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a{'n integer' if kind is int else ' number'}.") from None
    if value < 0:
        raise ConfigError(f"{name} must be zero or greater.")
    return value


def load_agent_settings(environ: Mapping[str, str] | None = None) -> AgentSettings:
    """The provider/MCP settings; with KNEO_SERV_REQUIRE_PROVIDER_SECRETS, a missing provider key fails here."""
    env = os.environ if environ is None else environ
    agents = AgentSettings(
        provider_timeout_seconds=_positive_float(env, "KNEO_SERV_PROVIDER_TIMEOUT_SECONDS", None),
        provider_retries=int(_non_negative(env, "KNEO_SERV_PROVIDER_RETRIES", 0, int)),
        provider_retry_backoff_seconds=_non_negative(env, "KNEO_SERV_PROVIDER_RETRY_BACKOFF_SECONDS", 0.0),
        require_provider_secrets=is_truthy(env.get("KNEO_SERV_REQUIRE_PROVIDER_SECRETS")),
        mcp_timeout_seconds=_positive_float(env, "KNEO_SERV_MCP_TIMEOUT_SECONDS", None),
        mcp_retries=int(_non_negative(env, "KNEO_SERV_MCP_RETRIES", 0, int)),
        mcp_retry_backoff_seconds=_non_negative(env, "KNEO_SERV_MCP_RETRY_BACKOFF_SECONDS", 0.0),
        sandbox=load_sandbox(env),
    )
    if agents.require_provider_secrets:
        from kneo.secrets import require_provider_secrets

        require_provider_secrets(_csv(env, "KNEO_SERV_HEALTH_PROVIDERS") or ("openai",), env)
    return agents


def _positive_fields(env: Mapping[str, str], defaults: Any) -> dict[str, int]:
    """Each integer field of the ``defaults`` dataclass from ``KNEO_SERV_<FIELD>`` when set."""
    return {
        name: _positive_int(env, f"KNEO_SERV_{name.upper()}", getattr(defaults, name))
        for name in defaults.__dataclass_fields__
    }


def _load_limits(env: Mapping[str, str]) -> Limits:
    return Limits(**_positive_fields(env, Limits()))


def _load_spec_bounds(env: Mapping[str, str]) -> SpecBounds:
    return SpecBounds(**_positive_fields(env, SpecBounds()))
