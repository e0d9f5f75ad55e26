"""The worker's structured log: one JSON line per executed step, carrying the request id.

The request id of the HTTP request that created or resumed a run travels with each step
message (a Celery header) and with every step the worker chains or dispatches after it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kneo.correlation import REQUEST_ID
from kneo.redaction import redact

log = logging.getLogger("kneo_serv.worker")


def worker_logger(level: str) -> logging.Logger:
    """The worker logger at ``level``: bare JSON lines on stderr, not Celery's prefixed format."""
    log.setLevel(level)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    return log


def log_step(level: str, **fields: Any) -> None:
    """Write one ``step_executed`` record (sorted keys, redacted)."""
    logger = worker_logger(level)
    if logger.isEnabledFor(logging.INFO):
        record = {"event": "step_executed", "request_id": REQUEST_ID.get(), **fields}
        logger.info(json.dumps(redact(record), sort_keys=True, default=str))
