"""Redaction of secrets and PII in values leaving the platform (contract §12.3, fixed).

Keys are matched by whole name parts instead of substrings, so harmless fields such as
``max_tokens``, ``session_id`` or ``service_tokens`` survive while ``api_key``,
``authorization`` or ``x_refresh_token`` are blanked.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
# Who a human task is assigned to is an identity a reviewer must see, even when it is an e-mail address.
IDENTITY_KEYS = frozenset({"assignee", "previous_assignee", "original_assignee"})

_SENSITIVE_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "password",
        "passwd",
        "private_key",
        "refresh_token",
        "access_token",
        "secret",
        "client_secret",
        "set_cookie",
        "token",
        "ssn",
        "social_security",
        "social_security_number",
    }
)
_SENSITIVE_SUFFIXES = ("_api_key", "_apikey", "_password", "_secret", "_token", "_private_key")
_KEY_NORMALISER = re.compile(r"[^a-z0-9_]+")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[REDACTED_EMAIL]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[REDACTED_SSN]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"sk-[A-Za-z0-9_-]{12,}"), REDACTED),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|api_key|api-key|apikey|authorization|credential)"
            r"\s*[:=]\s*(?!\[REDACTED)[^\s,;]+"
        ),
        r"\1=[REDACTED]",
    ),
)
_QUICK_CHECK = re.compile(r"(?i)@|\d{3}-\d{2}-\d{4}|bearer|sk-|passw|secret|token|api|authorization|credential")


@functools.lru_cache(maxsize=8192)
def is_sensitive_key(key: str) -> bool:
    """True when a mapping key names a secret or PII field."""
    normalised = _KEY_NORMALISER.sub("_", key.lower()).strip("_")
    if normalised in _SENSITIVE_KEYS or normalised.endswith(_SENSITIVE_SUFFIXES):
        return True
    return normalised.endswith("email") and not normalised.endswith("_email_count")


def redact_text(text: str) -> str:
    """Replace configured secret values, e-mails, SSNs, bearer tokens, provider keys and ``secret=…`` pairs."""
    secrets = _secrets.pattern()
    if secrets is not None:
        text = secrets.sub(REDACTED, text)
    if not _QUICK_CHECK.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactedDict(dict[str, Any]):
    """A mapping already redacted; :func:`redact` passes it through unchanged."""


class RedactedList(list[Any]):
    """A list already redacted; :func:`redact` passes it through unchanged."""


def already_redacted(value: Any) -> Any:
    """Mark a value already redacted (when it was stored, or once for several places in one answer)
    so that :func:`redact` does not walk it again."""
    if isinstance(value, Mapping):
        return RedactedDict(value)
    if isinstance(value, list):
        return RedactedList(value)
    return value


def redact(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """Return a redacted deep copy of a JSON-like value (values marked by :func:`already_redacted`
    are returned as they are); string values under a ``keep`` key pass as they are."""
    if isinstance(value, RedactedDict | RedactedList):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_entry(str(key), value_, keep) for key, value_ in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, keep) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _redact_entry(key: str, value: Any, keep: frozenset[str]) -> Any:
    if key in keep and (value is None or isinstance(value, str)):
        return value
    if value is not None and is_sensitive_key(key):
        return REDACTED
    return redact(value, keep)


def secret_values(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty values of the named environment variables (to scrub verbatim)."""
    return tuple(v for n in names if (v := environ.get(n)))


# --- verbatim scrubbing of configured secret values -------------------------------------------

MIN_SECRET_CHARS = 6
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_APIKEY", "_API_KEYS", "_TOKEN", "_SECRET", "_PASSWORD", "_SECRET_KEY")
_SECRET_ENV_NAMES = frozenset(
    {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "KNEO_SERV_API_KEY", "KNEO_SERV_ADMIN_API_KEY"}
)


def secret_env_names(environ: Mapping[str, str], registered: Iterable[str] = ()) -> set[str]:
    """Names whose values are secrets: provider and service keys, ``*_API_KEY``-style names,
    ``KNEO_SERV_HEALTH_MCP_SECRETS``, ``KNEO_SERV_REDACT_ENV_VARS`` and names registered at run time."""
    names = {n for n in environ if n in _SECRET_ENV_NAMES or n.upper().endswith(_SECRET_ENV_SUFFIXES)}
    for listing in ("KNEO_SERV_HEALTH_MCP_SECRETS", "KNEO_SERV_REDACT_ENV_VARS"):
        names.update(item.strip() for item in (environ.get(listing) or "").split(",") if item.strip())
    names.update(registered)
    return names


def _values_of(name: str, value: str) -> list[str]:
    if name == "KNEO_SERV_API_KEYS":  # name:key:roles;… — the keys are the secrets, not names or roles
        keys = [parts[1].strip() for entry in value.split(";") if len(parts := entry.split(":")) >= 3]
        return [value, *keys]
    return [value]


class _SecretValues:
    """The configured secret values as one regex, rebuilt when the environment changes (checked cheaply)."""

    TTL_SECONDS = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._signature: tuple[int, int] | None = None
        self._checked = 0.0

    def register(self, names: Iterable[str]) -> None:
        new = set(names) - self._registered
        if new:
            with self._lock:
                self._registered |= new
                self._signature = None

    def refresh(self) -> None:
        with self._lock:
            self._signature = None

    def pattern(self) -> re.Pattern[str] | None:
        now = time.monotonic()
        if self._signature is not None and now - self._checked < self.TTL_SECONDS:
            return self._pattern
        environ = dict(os.environ)
        names = secret_env_names(environ, self._registered)
        values = sorted(
            {v for n in names if (raw := environ.get(n)) for v in _values_of(n, raw) if len(v) >= MIN_SECRET_CHARS},
            key=len,
            reverse=True,
        )
        signature = (hash(tuple(values)), len(values))
        with self._lock:
            if signature != self._signature:
                self._pattern = re.compile("|".join(map(re.escape, values))) if values else None
                self._signature = signature
            self._checked = now
        return self._pattern


_secrets = _SecretValues()


def register_secret_env(names: Iterable[str]) -> None:
    """Treat these environment variables as secrets from now on (e.g. ``model.extra.api_key_env``)."""
    _secrets.register(names)


def refresh_secret_values() -> None:
    """Re-read the environment on the next redaction (after a change in this process)."""
    _secrets.refresh()


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: Any) -> Any:
    """A copy of a JSON-like ``value`` whose strings hold no lone surrogate (each becomes U+FFFD)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def scrub_secrets(value: Any) -> Any:
    """A deep copy of ``value`` with configured secret values replaced verbatim (nothing else changes).

    Used on data that flows on (step outputs, messages, run input): unlike :func:`redact` it keeps
    e-mails and other text a later step may need, but no platform credential is ever stored.
    """
    pattern = _secrets.pattern()
    if pattern is None:
        return value
    return _scrub(value, pattern)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {key: _scrub(item, pattern) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, pattern) for item in value]
    return value


class SecretLogFilter(logging.Filter):
    """Redacts every log record's rendered message (install on handlers of processes that log run data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, redact_text(text)
        return True
