"""Console sign-in: an API key exchanged for a signed, HTTP-only, SameSite session cookie.

The cookie never holds the key: it names the principal and carries an HMAC fingerprint of the
key, so removing or rotating a key in ``KNEO_SERV_API_KEYS`` signs its sessions out. Every form
carries the session's CSRF token. With auth off (the embedded default) everyone is the
anonymous admin and no sign-in is asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Request, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from kneo.auth.keys import ANONYMOUS, Principal, authenticate
from kneo.config import Settings
from kneo.web.request_scope import settings

F = TypeVar("F", bound=Callable[..., Any])
COOKIE_NAME = "kneo_console"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request arrived over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or _is_https(request)


def _is_https(req: Request) -> bool:
    return req.is_secure


def secret_key(config: Settings) -> bytes:
    """The signing key: ``KNEO_SERV_CONSOLE_SECRET``, else derived from the configured API keys.

    Deriving it from the keys makes every web worker agree without another setting, and a key
    rotation invalidates every console session.
    """
    if config.console.secret:
        return config.console.secret.encode()
    material = "\0".join(sorted(r.key for r in config.api_keys)) + "\0" + config.sqlalchemy_url
    return hashlib.sha256(b"kneo-console\0" + material.encode()).digest()


def configure(app: Flask, config: Settings) -> None:
    """Cookie settings of the console session (the API itself is stateless and ignores it)."""
    app.secret_key = secret_key(config)
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_SECURE=config.console.secure_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.console.session_minutes),
    )


def _fingerprint(key: str) -> str:
    return hmac.new(secret_key(settings()), key.encode(), hashlib.sha256).hexdigest()[:32]


def sign_in(key: str) -> Principal | None:
    """Start a session for the principal of ``key``; None when the key is unknown."""
    principal = authenticate(settings().api_keys, key.strip())
    if principal is None:
        return None
    session.clear()
    session.permanent = True
    session.update(principal=principal.name, fingerprint=_fingerprint(key.strip()), csrf=secrets.token_urlsafe(24))
    return principal


def sign_out() -> None:
    session.clear()


def console_principal() -> Principal | None:
    """The signed-in principal (the anonymous admin with auth off), also set for the API helpers."""
    if "kneo_principal" in g:
        return g.kneo_principal
    found = ANONYMOUS if not settings().auth_enabled else _session_principal()
    if found is not None:
        g.kneo_principal = found
    return found


def _session_principal() -> Principal | None:
    name, fingerprint = session.get("principal"), session.get("fingerprint")
    if not name or not fingerprint:
        return None
    for record in settings().api_keys:
        if record.principal.name == name and hmac.compare_digest(_fingerprint(record.key), fingerprint):
            return record.principal
    return None


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Refuse (403) a form post whose token does not match the session's."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(403, description="The form expired or did not come from this console; reload the page and try again.")


def safe_next(target: str | None) -> str:
    """A same-site path to return to after sign-in (never another host)."""
    if target and target.startswith("/console") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("console.runs")


def page(scope: str | None = None) -> Callable[[F], F]:
    """A console page: signed in (else to the sign-in form), ``scope`` held (else 403), CSRF on posts."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = console_principal()
            if principal is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            if scope is not None and not principal.has_scope(scope):
                abort(403, description=f"Your key does not grant {scope}.")
            if request.method == "POST":
                check_csrf()
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
