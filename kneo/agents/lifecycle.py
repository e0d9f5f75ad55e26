"""Worker-process lifecycle of the agent runtimes: redacting log filter, MCP sessions closed at shutdown.

Provider secrets required by ``KNEO_SERV_REQUIRE_PROVIDER_SECRETS`` are checked when the settings
load (``kneo.config.load_agent_settings``), i.e. before the web app or the worker starts.
"""

from __future__ import annotations

import atexit
import logging
from typing import Any

from kneo.redaction import SecretLogFilter

_FILTER = SecretLogFilter()


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Redact every record reaching the handlers of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def _on_logger(logger: logging.Logger | None = None, **_: Any) -> None:
    install_log_filter(logger)


def _on_start(**_: Any) -> None:
    install_log_filter()


def _on_shutdown(**_: Any) -> None:
    import sys

    pool = sys.modules.get("kneo.agents.mcp_pool")  # nothing to close if MCP was never used here
    if pool is not None:
        pool.close_pool()


def connect_worker_signals() -> None:
    """Hook the Celery worker's signals (called once by ``kneo.tasks.app``)."""
    from celery import signals

    signals.after_setup_logger.connect(_on_logger, weak=False)
    signals.after_setup_task_logger.connect(_on_logger, weak=False)
    signals.worker_init.connect(_on_start, weak=False)  # also when a setup_logging receiver took over
    signals.worker_process_init.connect(_on_start, weak=False)
    signals.worker_process_shutdown.connect(_on_shutdown, weak=False)
    signals.worker_shutdown.connect(_on_shutdown, weak=False)
    atexit.register(_on_shutdown)
