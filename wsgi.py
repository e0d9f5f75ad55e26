"""WSGI entry point: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``; with the admin commands of
``flask --app wsgi <group> <command>`` (migrations, sweeps, audit, backup)."""

from kneo.cli.admin import register_admin_commands
from kneo.web import create_app
from kneo.web.server_errors import envelope_server_errors

envelope_server_errors()
app = create_app()
register_admin_commands(app)
