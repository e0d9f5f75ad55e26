"""Request-scoped resources: settings, the database session and the principal."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from kneo.auth.keys import Principal
from kneo.config import Settings
from kneo.notify import LocalNotifier


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions["kneo.settings"]


def notifier() -> LocalNotifier:
    return current_app.extensions["kneo.notifier"]


def session_factory() -> sessionmaker[Session]:
    return current_app.extensions["kneo.sessions"]


def db() -> Session:
    """The request's session, created on first use and closed at teardown."""
    if "kneo_session" not in g:
        g.kneo_session = session_factory()()
    return g.kneo_session


def close_db(_exc: BaseException | None = None) -> None:
    session: Any = g.pop("kneo_session", None)
    if session is not None:
        session.close()


def principal() -> Principal:
    """The authenticated principal of this request."""
    return g.kneo_principal
