"""Request authentication (contract §3) and the scope check used by every resource."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from kneo.auth.keys import ANONYMOUS, Principal, authenticate
from kneo.errors import Forbidden, Unauthorized
from kneo.web.openapi import scope_doc
from kneo.web.request_scope import settings

F = TypeVar("F", bound=Callable[..., Any])


def presented_key() -> str:
    """The key from ``Authorization: Bearer`` (exclusive when present) or ``X-Kneo-Api-Key``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.headers.get("X-Kneo-Api-Key", "").strip()


def current_principal() -> Principal:
    """Authenticate the request once; raise 401 for a missing or wrong key."""
    cached = g.get("kneo_principal")
    if cached is not None:
        return cached
    config = settings()
    if not config.auth_enabled:
        found: Principal | None = ANONYMOUS
    else:
        found = authenticate(config.api_keys, presented_key())
    if found is None:
        raise Unauthorized("A valid Kneo service API key is required.")
    g.kneo_principal = found
    return found


def require_scope(scope: str) -> Callable[[F], F]:
    """Decorate a view so it needs ``scope`` (401 without a valid key, 403 without the scope)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_principal().has_scope(scope):
                raise Forbidden(f"Missing required scope: {scope}", code="forbidden", required_scope=scope)
            return view(*args, **kwargs)

        wrapper._kneo_scope = scope  # type: ignore[attr-defined]
        apidoc = dict(getattr(view, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), **scope_doc(scope)}
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
