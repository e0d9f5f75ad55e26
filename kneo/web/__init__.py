"""The web application factory."""

from __future__ import annotations

from flask import Flask

from kneo.config import Settings, load_settings
from kneo.db import make_engine, make_session_factory
from kneo.notify import notifier_for
from kneo.observability import web as observability
from kneo.startup import check_web_settings
from kneo.web import audit, console, credentials, docs_ui, graph, health, human, policies, runs, skills, specs
from kneo.web.auth import presented_key
from kneo.web.body_limit import ChunkedBodyLimit
from kneo.web.console import session as console_session
from kneo.web.error_envelope import register_error_handlers
from kneo.web.extensions import api
from kneo.web.middleware import register_request_hooks
from kneo.web.openapi import unify_versions
from kneo.web.request_scope import close_db

BLUEPRINTS = (
    health.blp,
    runs.blp,
    specs.blp,
    human.blp,
    audit.blp,
    credentials.blp,
    policies.blp,
    graph.blp,
    skills.blp,
)
API_PREFIXES = ("", "/v1")


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Flask:
    """Build the Flask app: settings, database, API blueprints at ``/`` and ``/v1``, error envelope."""
    settings = settings or load_settings()
    check_web_settings(settings)
    app = Flask("kneo")
    app.config.update(
        API_TITLE="Kneo Agent Platform API",
        API_VERSION=_version(),
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Platform service API for Kneo Agent runs, specs, traces, checkpoints, "
                'and human-in-the-loop tasks. Every error uses the envelope {"detail": …}.'
            }
        },
        MAX_CONTENT_LENGTH=settings.limits.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    engine = make_engine(settings)
    if migrate:
        from kneo import migrate as migrations

        migrations.upgrade(engine)
    app.extensions["kneo.settings"] = settings
    app.extensions["kneo.engine"] = engine
    app.extensions["kneo.sessions"] = make_session_factory(engine)
    # Reads get a pool of their own whose connections stay in autocommit (no switch per request);
    # it keeps as many connections as a web worker has threads (gunicorn's default 8).
    read_engine = make_engine(settings, isolation_level="AUTOCOMMIT", pool_size=8, max_overflow=8)
    app.extensions["kneo.read_engine"] = read_engine
    app.extensions["kneo.read_sessions"] = make_session_factory(read_engine)
    app.extensions["kneo.notifier"] = notifier_for(settings.broker_url)
    app.teardown_appcontext(close_db)
    api.init_app(app)
    api.register_security()
    registered: dict[str, str] = {}
    for blueprint in BLUEPRINTS:
        for prefix in API_PREFIXES:
            name = f"{blueprint.name}{prefix.replace('/', '_')}"
            api.register_blueprint(blueprint, url_prefix=prefix or None, name=name)
            registered[name] = blueprint.name
    unify_versions(api, API_PREFIXES, registered)
    app.register_blueprint(docs_ui.bp)
    console_session.configure(app, settings)
    app.register_blueprint(console.bp)
    register_error_handlers(app)
    register_request_hooks(app, settings)
    observability.init_app(app, settings, engine, presented_key)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, settings.limits.max_body_bytes)  # type: ignore[method-assign]
    return app


def _version() -> str:
    from kneo import __version__

    return __version__
