"""Startup checks that refuse insecure settings before a server accepts a request.

With a database URL (every production shape) the web needs keys unless auth is switched off
explicitly. In a deployment marked ``staging`` or ``production`` (``KNEO_SERV_DEPLOYMENT``) the
staging renderer's rules (``scripts/render_staging_env.py`` imports them from here) apply at
start-up as well: no placeholder or short key, a signing key that is no API key, and no span
payload capture.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping

from kneo.config import ConfigError, Settings, is_truthy

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"CHANGE_ME|changeme|change-me|\breplace-|<[^>]*>|\bTODO\b|\bFIXME\b", re.IGNORECASE)
MIN_KEY_CHARS = 16
STRICT_DEPLOYMENTS = frozenset({"staging", "production"})
PAYLOAD_CAPTURE = ("KNEO_SERV_OTEL_RECORD_ARGUMENTS", "KNEO_SERV_OTEL_RECORD_RESULTS")
AUTH_FIX = (
    "Set KNEO_SERV_API_KEYS or KNEO_SERV_ADMIN_API_KEY, or set KNEO_SERV_AUTH_ENABLED=false "
    "explicitly to serve without authentication."
)


def key_problem(name: str, key: str) -> str | None:
    """Why ``key`` is unusable in a marked deployment, or None."""
    if PLACEHOLDER.search(key):
        return f"{name} is still a placeholder; generate a random key (e.g. openssl rand -hex 24)."
    if len(key) < MIN_KEY_CHARS:
        return f"{name} must be at least {MIN_KEY_CHARS} characters."
    return None


def settings_problems(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Every reason the web must not start with these settings."""
    problems: list[str] = []
    if settings.database_url and not settings.auth_enabled and not settings.auth_opt_out:
        problems.append(f"KNEO_SERV_DATABASE_URL is set but no API keys are configured. {AUTH_FIX}")
    if settings.deployment in STRICT_DEPLOYMENTS:
        problems.extend(deployment_problems(settings, env))
    return problems


def deployment_problems(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The staging renderer's rules, for a deployment marked staging or production."""
    problems = [
        problem
        for record in settings.api_keys
        if (problem := key_problem(f"the API key of {record.principal.name!r}", record.key))
    ]
    signing_key = (env.get("KNEO_SERV_SPEC_SIGNING_KEY") or "").strip()
    if signing_key and any(record.key == signing_key for record in settings.api_keys):
        problems.append("KNEO_SERV_SPEC_SIGNING_KEY equals an API key; use a separate secret for signing.")
    problems.extend(
        f"{name} captures step payloads on spans; it may not be on in {settings.deployment}."
        for name in PAYLOAD_CAPTURE
        if is_truthy(env.get(name))
    )
    return problems


def check_web_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigError` naming every problem; warn on each start when auth is off by choice."""
    env = os.environ if environ is None else environ
    problems = settings_problems(settings, env)
    if problems:
        raise ConfigError("Refusing to start: " + " ".join(problems))
    if settings.database_url and not settings.auth_enabled:
        log.warning("authentication is disabled (KNEO_SERV_AUTH_ENABLED=false): every request is served anonymously")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_embedded_bind(settings: Settings, host: str) -> None:
    """The embedded server is open only on loopback (its start-up lines say so); another address needs keys."""
    if not settings.auth_enabled and not is_loopback(host):
        raise ConfigError(
            f"Refusing to serve without API keys on {host}: anyone who reaches it could run and read "
            "everything. Set KNEO_SERV_API_KEYS or KNEO_SERV_ADMIN_API_KEY, or bind to 127.0.0.1."
        )
