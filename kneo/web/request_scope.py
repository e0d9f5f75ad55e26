"""Request-scoped resources: settings, the database session and the principal."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kneo.auth.keys import Principal
from kneo.config import Settings
from kneo.notify import LocalNotifier


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions["kneo.settings"]


def notifier() -> LocalNotifier:
    return current_app.extensions["kneo.notifier"]


def read_engine() -> Engine:
    """The engine of read-only requests (autocommit connections)."""
    return current_app.extensions["kneo.read_engine"]


def session_factory() -> sessionmaker[Session]:
    return current_app.extensions["kneo.sessions"]


def db(write: bool | None = None) -> Session:
    """The request's session, created on first use and closed at teardown.

    Reads (GET/HEAD, unless ``write``) use an autocommit session: one round trip per query,
    no BEGIN/ROLLBACK around it.
    """
    if write is None:
        write = request.method not in ("GET", "HEAD")
    name = "kneo_session" if write else "kneo_read_session"
    if name not in g:
        factory = "kneo.sessions" if write else "kneo.read_sessions"
        setattr(g, name, current_app.extensions[factory]())
    return getattr(g, name)


def close_db(_exc: BaseException | None = None) -> None:
    for name in ("kneo_session", "kneo_read_session"):
        session: Any = g.pop(name, None)
        if session is not None:
            session.close()


def principal() -> Principal:
    """The authenticated principal of this request."""
    return g.kneo_principal
