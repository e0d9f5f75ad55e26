"""Span exporters for files (one compact JSON object per line) and the console."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A flat, stable JSON view of a finished span (ids in hex, as the OTel console exporter prints them)."""
    context = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "kind": span.kind.name,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "resource": dict(span.resource.attributes) if span.resource else {},
        "pid": os.getpid(),
    }


class JsonLinesSpanExporter(SpanExporter):
    """Append spans to a file (``KNEO_SERV_OTEL_EXPORTER=file:<path>``) or write them to stdout.

    Each batch is written with one ``write`` on a file opened with ``O_APPEND``, so several
    processes (gunicorn and Celery workers) can share one file without interleaving lines.
    """

    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(json.dumps(span_record(span), default=str, sort_keys=True) + "\n" for span in spans)
        with self._lock:
            if self._path is None:
                print(data, end="", flush=True)
                return SpanExportResult.SUCCESS
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
