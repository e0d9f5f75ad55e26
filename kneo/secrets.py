"""Secret references: environment variable names, never values (contract §12.1, §12.2).

Specs name credentials only by reference: a provider's key lives in its env var
(``OPENAI_API_KEY``, ``<PROVIDER>_API_KEY`` or ``model.extra.api_key_env``), and MCP server
``env`` / ``headers`` values may embed ``${VAR}`` references resolved in the worker at connect
time. Every variable resolved this way is registered with :mod:`kneo.redaction` so its value is
scrubbed verbatim from anything the platform stores, logs or returns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

PROVIDER_ENV = {
    "openai": "OPENAI_API_KEY",
    "openai-agents": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GOOGLE_API_KEY",
    "google-adk": "GOOGLE_API_KEY",
}
SERVICE_TOKENS = ("KNEO_SERV_API_KEY", "KNEO_SERV_API_KEYS", "KNEO_SERV_ADMIN_API_KEY")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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


def require_secret(name: str, env_var: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret's value, or :class:`MissingSecretError` naming the variable."""
    value = (os.environ if environ is None else environ).get(env_var)
    if not value:
        raise MissingSecretError(f"Required secret '{name}' is missing from {env_var}.")
    from kneo.redaction import register_secret_env

    register_secret_env((env_var,))
    return value


def require_provider_secrets(providers: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
    """Fail fast (startup, ``KNEO_SERV_REQUIRE_PROVIDER_SECRETS``) when a provider key is missing."""
    env = os.environ if environ is None else environ
    missing = [f"provider:{p} ({provider_env_var(p)})" for p in providers if not env.get(provider_env_var(p))]
    if missing:
        raise MissingSecretError(
            "KNEO_SERV_REQUIRE_PROVIDER_SECRETS is on but required provider secrets are missing: "
            + ", ".join(missing)
            + ". Set the variables or turn the setting off."
        )


def env_references(text: str) -> list[str]:
    """The ``${VAR}`` names referenced in ``text``."""
    return _REFERENCE.findall(text)


def resolve_references(text: str, owner: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each ``${VAR}`` in ``text`` with the variable's value (missing → MissingSecretError).

    The names were vetted against the operator's secret allow-list when the server was bound;
    a service setting (``KNEO_SERV_*``) is refused here regardless.
    """
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.upper().startswith("KNEO_SERV_"):
            raise MissingSecretError(f"Service setting {name} cannot be referenced by '{owner}'.")
        return require_secret(f"{owner}:{name}", name, env)

    return _REFERENCE.sub(value, text)
