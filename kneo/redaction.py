"""Redaction of secrets and PII in values leaving the platform (contract §12.3, fixed).

Keys are matched by whole name parts instead of substrings, so harmless fields such as
``max_tokens``, ``session_id`` or ``service_tokens`` survive while ``api_key``,
``authorization`` or ``x_refresh_token`` are blanked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

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


def is_sensitive_key(key: str) -> bool:
    """True when a mapping key names a secret or PII field."""
    normalised = _KEY_NORMALISER.sub("_", key.lower()).strip("_")
    if normalised in _SENSITIVE_KEYS or normalised.endswith(_SENSITIVE_SUFFIXES):
        return True
    return normalised.endswith("email") and not normalised.endswith("_email_count")


def redact_text(text: str) -> str:
    """Replace e-mails, SSNs, bearer tokens, provider keys and ``secret=…`` pairs in ``text``."""
    if not _QUICK_CHECK.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Return a redacted deep copy of a JSON-like value."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: (REDACTED if value_ is not None and is_sensitive_key(str(key)) else redact(value_))
            for key, value_ in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def secret_values(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty values of the named environment variables (to scrub verbatim)."""
    return tuple(v for n in names if (v := environ.get(n)))
