"""Settings read from the environment (``KNEO_SERV_*``), validated once.

This module is the single source of configuration for the web app, the Celery
worker and beat (through ``celeryconfig.py``) and the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from kneo.agent_config import AgentSettings, load_agent_settings, load_sandbox
from kneo.auth.keys import ApiKeyRecord, parse_api_keys
from kneo.config_values import (
    ConfigError,
    broker_url_of,
    csv_values,
    is_falsy,
    is_truthy,
    networks,
    optional_days,
    positive_fields,
    positive_float,
    positive_int,
)
from kneo.environments import normalise_environment
from kneo.sandbox import SkillRoot
from kneo.specs.bounds import SpecBounds

__all__ = [
    "AgentSettings",
    "ConfigError",
    "ConsoleSettings",
    "Limits",
    "Retention",
    "Settings",
    "examples_package",
    "is_truthy",
    "load_agent_settings",
    "load_sandbox",
    "load_settings",
]

LOG_LEVELS = frozenset({"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"})
DEFAULT_SQLITE_PATH = Path(".kneo") / "kneo_runs.sqlite"
DEFAULT_SKILL_MAX_BYTES = 262_144
EXAMPLES_PACKAGE = "examples"


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
    broker_url = broker_url_of(env)
    spec_root = Path(env.get("KNEO_SERV_SPEC_ROOT") or Path.cwd()).resolve()
    allowed_modules = csv_values(env, "KNEO_SERV_ALLOWED_MODULES")
    if broker_url.startswith("memory://"):
        allowed_modules += tuple(m for m in examples_package(spec_root) if m not in allowed_modules)
    return Settings(
        database_url=database_url,
        sqlite_path=state_dir / DEFAULT_SQLITE_PATH.name,
        broker_url=broker_url,
        api_keys=records,
        auth_enabled=auth_enabled,
        auth_opt_out=is_falsy(env.get("KNEO_SERV_AUTH_ENABLED")),
        deployment=(env.get("KNEO_SERV_DEPLOYMENT") or "").strip().lower(),
        limits=_load_limits(env),
        spec_bounds=_load_spec_bounds(env),
        request_logs=(env.get("KNEO_SERV_REQUEST_LOGS") is None) or is_truthy(env.get("KNEO_SERV_REQUEST_LOGS")),
        log_level=log_level,
        client_timeout=positive_float(env, "KNEO_SERV_CLIENT_TIMEOUT", 120.0) or 120.0,
        step_timeout_seconds=positive_int(env, "KNEO_SERV_STEP_TIMEOUT_SECONDS", 300),
        lease_grace_seconds=positive_int(env, "KNEO_SERV_LEASE_GRACE_SECONDS", 15),
        max_step_attempts=positive_int(env, "KNEO_SERV_MAX_STEP_ATTEMPTS", 5),
        reconcile_interval_seconds=positive_float(env, "KNEO_SERV_RECONCILE_INTERVAL_SECONDS", 5.0) or 5.0,
        reconcile_stale_seconds=positive_float(env, "KNEO_SERV_RECONCILE_STALE_SECONDS", 5.0) or 5.0,
        human_sweep_interval_seconds=positive_float(env, "KNEO_SERV_HUMAN_SWEEP_INTERVAL_SECONDS", 5.0) or 5.0,
        deadline_sweep_interval_seconds=positive_float(env, "KNEO_SERV_DEADLINE_SWEEP_INTERVAL_SECONDS", 5.0) or 5.0,
        retention_sweep_interval_seconds=positive_float(env, "KNEO_SERV_RETENTION_SWEEP_INTERVAL_SECONDS", 3600.0)
        or 3600.0,
        retention=Retention(
            runs_days=optional_days(env, "KNEO_SERV_RETENTION_RUNS_DAYS"),
            checkpoints_days=optional_days(env, "KNEO_SERV_RETENTION_CHECKPOINTS_DAYS"),
            trace_days=optional_days(env, "KNEO_SERV_RETENTION_TRACE_DAYS"),
            audit_days=optional_days(env, "KNEO_SERV_RETENTION_AUDIT_DAYS"),
            idempotency_days=optional_days(env, "KNEO_SERV_RETENTION_IDEMPOTENCY_DAYS"),
        ),
        allowed_modules=allowed_modules,
        spec_root=spec_root,
        skills=SkillRoot(
            _skills_root(env, spec_root, state_dir),
            positive_int(env, "KNEO_SERV_SKILL_MAX_BYTES", DEFAULT_SKILL_MAX_BYTES),
        ),
        health_providers=csv_values(env, "KNEO_SERV_HEALTH_PROVIDERS"),
        health_mcp_secrets=csv_values(env, "KNEO_SERV_HEALTH_MCP_SECRETS"),
        otel_enabled=is_truthy(env.get("KNEO_SERV_OTEL_ENABLED")),
        idempotency_ttl_seconds=positive_int(env, "KNEO_SERV_IDEMPOTENCY_TTL_SECONDS", 86_400),
        idempotency_lease_seconds=positive_int(
            env,
            "KNEO_SERV_IDEMPOTENCY_LEASE_SECONDS",
            int(positive_float(env, "KNEO_SERV_CLIENT_TIMEOUT", 120.0) or 120) + 30,
        ),
        agents=load_agent_settings(env),
        require_signed_bundles=_signed_bundle_environments(env),
        trusted_proxies=networks(env, "KNEO_SERV_TRUSTED_PROXIES"),
        console=ConsoleSettings(
            secret=(env.get("KNEO_SERV_CONSOLE_SECRET") or "").strip() or None,
            secure_cookie=is_truthy(env.get("KNEO_SERV_CONSOLE_SECURE_COOKIE")),
            session_minutes=positive_int(env, "KNEO_SERV_CONSOLE_SESSION_MINUTES", 480),
        ),
        default_environment=normalise_environment(env.get("KNEO_SERV_DEFAULT_ENVIRONMENT")),
    )


def _state_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("KNEO_SERV_STATE_DIR") or ".kneo")


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


def examples_package(spec_root: Path) -> tuple[str, ...]:
    """``("examples",)`` when the spec root holds the project's example package, else ``()``.

    The embedded default (``kneo serve``) trusts it so the examples run with no settings; a
    deployment with a broker keeps the explicit ``KNEO_SERV_ALLOWED_MODULES`` list only.
    """
    return (EXAMPLES_PACKAGE,) if (spec_root / EXAMPLES_PACKAGE / "functions.py").is_file() else ()


def _signed_bundle_environments(env: Mapping[str, str]) -> tuple[str, ...]:
    """KNEO_SERV_REQUIRE_SIGNED_BUNDLES (environments, ``*`` = all); they need the signing key."""
    listed = tuple(normalise_environment(name) or name for name in csv_values(env, "KNEO_SERV_REQUIRE_SIGNED_BUNDLES"))
    if listed and not (env.get("KNEO_SERV_SPEC_SIGNING_KEY") or "").strip():
        raise ConfigError("KNEO_SERV_REQUIRE_SIGNED_BUNDLES is set but KNEO_SERV_SPEC_SIGNING_KEY is not.")
    return listed


def _load_limits(env: Mapping[str, str]) -> Limits:
    return Limits(**positive_fields(env, Limits()))


def _load_spec_bounds(env: Mapping[str, str]) -> SpecBounds:
    return SpecBounds(**positive_fields(env, SpecBounds()))
