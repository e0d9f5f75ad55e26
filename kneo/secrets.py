"""Secret references: environment variable names, never values (contract §12.1, §12.2)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PROVIDER_ENV = {
    "openai": "OPENAI_API_KEY",
    "openai-agents": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "google-adk": "GOOGLE_API_KEY",
}
SERVICE_TOKENS = ("KNEO_SERV_API_KEY", "KNEO_SERV_API_KEYS", "KNEO_SERV_ADMIN_API_KEY")


class MissingSecretError(RuntimeError):
    """A required secret's environment variable is empty or unset."""


def provider_env_var(provider: str) -> str:
    return PROVIDER_ENV.get(provider, provider.upper().replace("-", "_") + "_API_KEY")


def reference(name: str, env_var: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{name, env_var, present, value}`` with the value always redacted."""
    present = bool((environ if environ is not None else os.environ).get(env_var))
    return {"name": name, "env_var": env_var, "present": present, "value": "[REDACTED]" if present else None}


def provider_reference(provider: str) -> dict[str, Any]:
    return reference(f"provider:{provider}", provider_env_var(provider))


def extra_reference(name: str) -> dict[str, Any]:
    return reference(f"extra:{name}", name)


def require_secret(name: str, env_var: str) -> str:
    """The secret's value, or :class:`MissingSecretError` naming the variable."""
    value = os.environ.get(env_var)
    if not value:
        raise MissingSecretError(f"Required secret '{name}' is missing from {env_var}.")
    return value
