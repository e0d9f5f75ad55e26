"""The OpenTelemetry tracer provider of a process and the library instrumentations.

Nothing here runs unless ``KNEO_SERV_OTEL_ENABLED`` is truthy and the ``deploy`` extra
(the OpenTelemetry packages) is installed.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from kneo.observability import settings as obs

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured_pid: int | None = None
_instrumented: set[str] = set()


def configure_tracing(role: str) -> bool:
    """Install the tracer provider and exporter of this process once; False when tracing is off."""
    global _configured_pid
    if not obs.otel_enabled():
        return False
    with _lock:
        if _configured_pid == os.getpid():
            return True
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError:
            log.warning("KNEO_SERV_OTEL_ENABLED is set but OpenTelemetry is not installed (pip install 'kneo[deploy]')")
            return False
        attributes: dict[str, Any] = {"kneo.process.role": role}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = f"kneo-{role}"
        provider = TracerProvider(resource=Resource.create(attributes))
        processor = _span_processor(obs.exporter_choice())
        if processor is not None:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _configured_pid = os.getpid()
        return True


def _span_processor(choice: str) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    from kneo.observability.exporters import JsonLinesSpanExporter

    if choice == "none":
        return None
    if choice == "console":
        return SimpleSpanProcessor(JsonLinesSpanExporter())
    if choice.startswith("file:"):
        return SimpleSpanProcessor(JsonLinesSpanExporter(choice[len("file:") :]))
    if choice != "otlp":
        raise ValueError(f"{obs.EXPORTER_ENV} must be console, file:<path>, otlp or none; got {choice!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())


def _once(name: str) -> bool:
    with _lock:
        if name in _instrumented:
            return False
        _instrumented.add(name)
        return True


def instrument_flask(app: Any) -> None:
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,livez,metrics")


def instrument_engine(engine: Any) -> None:
    """Trace the statements of ``engine`` (engines are instrumented one by one, not globally)."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy import EngineTracer
    from opentelemetry.metrics import get_meter

    key = f"engine:{id(engine)}:{os.getpid()}"
    if not _once(key):
        return
    meter = get_meter("kneo.sqlalchemy")
    usage = meter.create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)


def instrument_celery() -> None:
    """Celery publish/run spans and trace-context propagation through the message headers."""
    if not _once(f"celery:{os.getpid()}"):
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
