"""Step time limits where Celery cannot enforce them: thread pools (the embedded worker).

Celery raises ``SoftTimeLimitExceeded`` with a signal, which only a prefork child's main thread
receives. Elsewhere the step runs in a watchdog thread: when it overruns, the caller gets
``SoftTimeLimitExceeded`` at once (the step fails with ``StepTimeout``) and the overrunning
thread is asked to stop at its next Python instruction; a call blocked in C ends on its own.
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded

T = TypeVar("T")


def signals_enforce_limits() -> bool:
    """True in the main thread, where a prefork child receives Celery's time-limit signal."""
    return threading.current_thread() is threading.main_thread()


def call_with_time_limit(func: Callable[[], T], seconds: float | None) -> T:
    """Return ``func()``, or raise ``SoftTimeLimitExceeded`` once it has run ``seconds``."""
    if seconds is None or signals_enforce_limits():
        return func()
    context = contextvars.copy_context()
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(context.run(func))
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)

    worker = threading.Thread(target=target, name="kneo-step", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _interrupt(worker)
        raise SoftTimeLimitExceeded(f"step exceeded its time limit of {seconds}s")
    if failure:
        raise failure[0]
    return result[0]


def _interrupt(thread: threading.Thread) -> None:
    """Raise ``SoftTimeLimitExceeded`` inside ``thread`` at its next bytecode (best effort)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(SoftTimeLimitExceeded)
        )
