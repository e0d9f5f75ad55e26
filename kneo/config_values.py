"""Typed values read from an environment mapping; a malformed one raises :class:`ConfigError`."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

TRUTHY = frozenset({"1", "true", "yes", "on"})


class ConfigError(RuntimeError):
    """A setting is malformed; raised at startup."""


def is_truthy(value: str | None) -> bool:
    """Return True for the contract's truthy spellings."""
    return value is not None and value.strip().lower() in TRUTHY


def is_falsy(value: str | None) -> bool:
    """True when a flag is present, not blank and not truthy (an explicit "off")."""
    return value is not None and value.strip() != "" and not is_truthy(value)


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """``name`` as an integer above zero, ``default`` when unset."""
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


def optional_days(env: Mapping[str, str], name: str) -> float | None:
    """``name`` as a number of days (zero or more), None when unset."""
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


def positive_float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """``name`` as a number above zero, ``default`` when unset."""
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


def csv_values(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """``name`` as comma-separated items, blanks dropped."""
    raw = env.get(name) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def non_negative(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    """``name`` as a ``kind`` of zero or more, ``default`` when unset."""
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


def networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A CSV of addresses or CIDR networks (``10.0.0.5, 172.16.0.0/12``)."""
    try:
        return tuple(ip_network(item, strict=False) for item in csv_values(env, name))
    except ValueError:
        raise ConfigError(f"{name} must list IP addresses or networks separated by commas.") from None


def positive_fields(env: Mapping[str, str], defaults: Any) -> dict[str, int]:
    """Each integer field of the ``defaults`` dataclass from ``KNEO_SERV_<FIELD>`` when set."""
    return {
        name: positive_int(env, f"KNEO_SERV_{name.upper()}", getattr(defaults, name))
        for name in defaults.__dataclass_fields__
    }


def broker_url_of(env: Mapping[str, str]) -> str:
    """KNEO_SERV_BROKER_URL, else Redis on loopback with a database URL, else the embedded in-memory broker."""
    default = "redis://127.0.0.1:6379/0" if (env.get("KNEO_SERV_DATABASE_URL") or "").strip() else "memory://"
    return (env.get("KNEO_SERV_BROKER_URL") or "").strip() or default
