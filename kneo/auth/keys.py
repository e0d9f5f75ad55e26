"""API-key records, roles and scopes (contract §3), framework-free."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from kneo.environments import normalise_environment

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "operator": frozenset(
        {
            "runs:read",
            "runs:write",
            "specs:read",
            "human:read",
            "audit:read",
            "credentials:read",
            "policies:read",
            "policies:write",
        }
    ),
    "reviewer": frozenset({"runs:read", "human:read", "human:write", "audit:read"}),
    "service": frozenset(
        {
            "runs:read",
            "runs:write",
            "specs:read",
            "human:read",
            "human:write",
            "audit:read",
            "audit:write",
            "credentials:read",
            "policies:read",
        }
    ),
    "viewer": frozenset({"runs:read", "specs:read", "human:read", "audit:read"}),
}

KNOWN_SCOPES: frozenset[str] = frozenset().union(*ROLE_SCOPES.values())

ENTRY_FORMAT_ERROR = (
    "Invalid KNEO_SERV_API_KEYS entry. Expected 'name:key:role_or_scope[,role_or_scope][,env=environment]'."
)
ENV_TOKEN = "env="


@dataclass(frozen=True)
class Principal:
    """An authenticated identity: its name becomes the audit actor."""

    name: str
    roles: tuple[str, ...]
    scopes: frozenset[str]
    environments: frozenset[str] = frozenset()

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


ANONYMOUS = Principal(name="anonymous", roles=("anonymous",), scopes=frozenset({"*"}))


@dataclass(frozen=True)
class ApiKeyRecord:
    """One configured key with the principal it authenticates."""

    key: str
    principal: Principal

    def __repr__(self) -> str:
        return f"ApiKeyRecord(name={self.principal.name!r}, key=<hidden>)"


def _record(name: str, key: str, tokens: list[str]) -> ApiKeyRecord:
    roles = tuple(t for t in tokens if t in ROLE_SCOPES)
    scopes: set[str] = set()
    environments: set[str] = set()
    for token in tokens:
        if token.lower().startswith(ENV_TOKEN):
            environment = normalise_environment(token[len(ENV_TOKEN) :])
            if environment is None:
                raise ValueError(f"Invalid KNEO_SERV_API_KEYS entry for {name!r}: empty env= binding.")
            environments.add(environment)
        elif token in ROLE_SCOPES:
            scopes |= ROLE_SCOPES[token]
        elif token in KNOWN_SCOPES:
            scopes.add(token)
        else:
            raise ValueError(f"Invalid KNEO_SERV_API_KEYS entry for {name!r}: unknown role or scope {token!r}.")
    if not roles and not scopes:
        raise ValueError(ENTRY_FORMAT_ERROR)
    principal = Principal(name=name, roles=roles, scopes=frozenset(scopes), environments=frozenset(environments))
    return ApiKeyRecord(key=key, principal=principal)


def parse_api_keys(raw: str | None, admin_key: str | None = None) -> tuple[ApiKeyRecord, ...]:
    """Parse ``name:key:role_or_scope[,…][,env=environment…]`` entries separated by ``;``.

    Unlike the reference, unknown roles/scopes are rejected instead of silently becoming scopes.
    ``env=`` tokens bind the key to those environments (see :mod:`kneo.environments`).
    """
    records: list[ApiKeyRecord] = []
    for entry in (raw or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) < 3:
            raise ValueError(ENTRY_FORMAT_ERROR)
        name, key, rest = (p.strip() for p in parts)
        tokens = [t.strip() for t in rest.split(",") if t.strip()]
        if not name or not tokens:
            raise ValueError(ENTRY_FORMAT_ERROR)
        records.append(_record(name, key, tokens))
    if admin_key and admin_key.strip():
        records.append(_record("admin", admin_key.strip(), ["admin"]))
    return tuple(records)


def authenticate(records: tuple[ApiKeyRecord, ...], presented: str) -> Principal | None:
    """Return the principal of the first record whose key equals ``presented`` (constant time)."""
    if not presented:
        return None
    token = presented.encode()
    found: Principal | None = None
    for record in records:
        if record.key and hmac.compare_digest(record.key.encode(), token) and found is None:
            found = record.principal
    return found
