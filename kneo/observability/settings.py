"""Observability settings, read from the environment at the time they are needed."""

from __future__ import annotations

import os
from collections.abc import Mapping

from kneo.config import is_truthy

EXPORTER_ENV = "KNEO_SERV_OTEL_EXPORTER"
METRICS_TOKEN_ENV = "KNEO_SERV_METRICS_TOKEN"
METRICS_ENABLED_ENV = "KNEO_SERV_METRICS_ENABLED"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def otel_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``KNEO_SERV_OTEL_ENABLED`` is truthy (checked per use, as the contract does)."""
    return is_truthy(_env(environ).get("KNEO_SERV_OTEL_ENABLED"))


def record_arguments(environ: Mapping[str, str] | None = None) -> bool:
    """Record step inputs on spans (off by default: they may hold personal data)."""
    return is_truthy(_env(environ).get("KNEO_SERV_OTEL_RECORD_ARGUMENTS"))


def record_results(environ: Mapping[str, str] | None = None) -> bool:
    """Record step outputs on spans (off by default)."""
    return is_truthy(_env(environ).get("KNEO_SERV_OTEL_RECORD_RESULTS"))


def exporter_choice(environ: Mapping[str, str] | None = None) -> str:
    """``console``, ``file:<path>``, ``otlp`` or ``none``.

    Unset: the standard ``OTEL_TRACES_EXPORTER`` (``otlp`` when that is unset too), with the
    standard ``OTEL_EXPORTER_OTLP_*`` variables configuring the OTLP exporter.
    """
    env = _env(environ)
    choice = (env.get(EXPORTER_ENV) or "").strip()
    if choice:
        return choice
    standard = (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    return standard or "otlp"


def metrics_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``/metrics`` is served unless ``KNEO_SERV_METRICS_ENABLED`` is false."""
    raw = _env(environ).get(METRICS_ENABLED_ENV)
    return raw is None or raw.strip() == "" or is_truthy(raw)


def metrics_token(environ: Mapping[str, str] | None = None) -> str | None:
    """A bearer token ``/metrics`` requires (unset: unauthenticated, like the health probes)."""
    token = (_env(environ).get(METRICS_TOKEN_ENV) or "").strip()
    return token or None


def multiproc_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """prometheus_client's multiprocess directory, shared by every web and worker process of a host."""
    value = (_env(environ).get(MULTIPROC_ENV) or _env(environ).get("prometheus_multiproc_dir") or "").strip()
    return value or None
