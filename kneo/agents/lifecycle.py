"""Process resources of the agent runtimes: the redacting log filter, MCP sessions closed at shutdown.

The worker connects these to Celery's signals (``kneo.tasks.wiring``). Provider secrets required by
``KNEO_SERV_REQUIRE_PROVIDER_SECRETS`` are checked when the settings load
(``kneo.config.load_agent_settings``), i.e. before the web app or the worker starts.
"""

from __future__ import annotations

import logging
import sys

from kneo.redaction import SecretLogFilter

_FILTER = SecretLogFilter()


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Redact every record reaching the handlers of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def close_agent_resources() -> None:
    """Close the MCP sessions of this process (nothing to close if MCP was never used here)."""
    pool = sys.modules.get("kneo.agents.mcp_pool")
    if pool is not None:
        pool.close_pool()
