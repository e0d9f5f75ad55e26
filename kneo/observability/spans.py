"""The platform spans of contract §13.2 and the per-step span, on tracer ``kneo_serv.platform``.

Each helper is a no-op (one environment lookup) when tracing is off.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kneo.observability import settings as obs

TRACER_NAME = "kneo_serv.platform"
MAX_RECORDED_CHARS = 2000
T = TypeVar("T")


def tracer() -> Any:
    """The platform tracer, or None when tracing is off or OpenTelemetry is missing."""
    if not obs.otel_enabled():
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_tracer(TRACER_NAME)


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        return None


@contextmanager
def _span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    platform = tracer()
    if platform is None:
        yield _NoSpan()
        return
    clean = {k: v for k, v in attributes.items() if v is not None}
    with platform.start_as_current_span(name, attributes=clean) as span:
        yield span


@contextmanager
def dispatch_span(run_id: str | None, step_run_id: str) -> Iterator[Any]:
    """``kneo.queue.dispatch`` around sending one step message."""
    with _span("kneo.queue.dispatch", {"kneo.run.id": run_id, "kneo.step_run.id": step_run_id}) as span:
        yield span


class LeaseRecorder:
    """Adds the claim's result to the ``kneo.worker.lease`` span."""

    def __init__(self, span: Any) -> None:
        self.span = span

    def record(self, claimed: T) -> T:
        self.span.set_attribute("kneo.worker.claimed", claimed is not None)
        if claimed is not None:
            self.span.set_attribute("kneo.run.id", claimed.run_id)  # type: ignore[attr-defined]
            self.span.set_attribute("kneo.step.id", claimed.step_id)  # type: ignore[attr-defined]
            self.span.set_attribute("kneo.step.attempt", claimed.attempt)  # type: ignore[attr-defined]
        return claimed


@contextmanager
def lease_span(worker_id: str, timeout_seconds: int | None, settings: Any) -> Iterator[LeaseRecorder]:
    """``kneo.worker.lease`` around a step claim (lease = step time limit + grace)."""
    lease = (timeout_seconds or settings.step_timeout_seconds) + settings.lease_grace_seconds
    with _span("kneo.worker.lease", {"kneo.worker.id": worker_id, "kneo.worker.lease_seconds": lease}) as span:
        yield LeaseRecorder(span)


def continuation_lock_span(lock: Callable[..., T]) -> Callable[..., T]:
    """Decorate ``lock_task(session, task_id)``: ``kneo.continuation.lock`` with ``kneo.lock.acquired``.

    The lock is a row lock taken without waiting and held until the transaction ends, so
    ``kneo.lock.ttl_seconds`` is 0 (no time-based expiry).
    """

    @functools.wraps(lock)
    def wrapper(session: Any, task_id: str, *args: Any, **kwargs: Any) -> T:
        attributes = {
            "kneo.continuation.id": task_id,
            "kneo.lock.name": f"continuation:{task_id}",
            "kneo.lock.ttl_seconds": 0,
        }
        with _span("kneo.continuation.lock", attributes) as span:
            try:
                task = lock(session, task_id, *args, **kwargs)
            except Exception as exc:
                span.set_attribute("kneo.lock.acquired", getattr(exc, "code", None) != "resource_locked")
                raise
            span.set_attribute("kneo.lock.acquired", True)
            return task

    return wrapper


def observe_step(execute: Callable[..., T]) -> Callable[..., T]:
    """Decorate the worker's ``_execute(claimed, runtime)``: a ``kneo.step`` span and the step histogram."""

    @functools.wraps(execute)
    def wrapper(claimed: Any, *args: Any, **kwargs: Any) -> T:
        from kneo.observability import metrics

        attributes = {
            "kneo.run.id": claimed.run_id,
            "kneo.step_run.id": claimed.step_run_id,
            "kneo.step.id": claimed.step_id,
            "kneo.step.kind": claimed.kind,
            "kneo.step.attempt": claimed.attempt,
        }
        if obs.record_arguments():
            attributes["kneo.step.input"] = _clip(claimed.input_text)
        started = time.perf_counter()
        with _span("kneo.step", attributes) as span:
            outcome = execute(claimed, *args, **kwargs)
            error = getattr(outcome, "error", None)
            span.set_attribute("kneo.step.outcome", "error" if error is not None else "ok")
            if error is not None:
                span.set_attribute("kneo.step.error_type", str(error.get("type")))
            elif obs.record_results():
                span.set_attribute("kneo.step.output", _clip(getattr(outcome, "output_text", None)))
        metrics.observe_step(claimed.kind, error is None, time.perf_counter() - started)
        return outcome

    return wrapper


def _clip(text: str | None) -> str:
    from kneo.redaction import redact_text

    return redact_text(text or "")[:MAX_RECORDED_CHARS]
