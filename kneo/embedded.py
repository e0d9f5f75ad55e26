"""The embedded platform: web, Celery worker and beat in one process on SQLite, no servers.

The worker and beat are the same Celery code as in production, on kombu's in-memory
transport. Messages do not survive a restart, the database does: at startup every queued
step is re-dispatched and every step the previous process was running is recovered.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from kneo import __version__
from kneo.config import Settings, examples_package
from kneo.db import transaction
from kneo.startup import check_embedded_bind
from kneo.tasks import runtime

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

log = logging.getLogger(__name__)
POLLING_INTERVAL = 0.01  # seconds between polls of an empty in-memory queue (the default is 1s)


def recover_previous_process(settings: Settings) -> int:
    """Release the leases of the previous process and re-dispatch every open step."""
    from kneo.tasks.sweeps import run_reconcile
    from kneo.workflows.sweeps.reconcile import release_all_leases

    rt = runtime.get_runtime()
    with rt.sessions() as session, transaction(session):
        release_all_leases(session)
    return run_reconcile()


def make_examples_importable(settings: Settings) -> bool:
    """Put the spec root first on ``sys.path`` when it holds the trusted ``examples`` package."""
    if not examples_package(settings.spec_root):
        return False
    if str(settings.spec_root) not in sys.path:
        sys.path.insert(0, str(settings.spec_root))
    return True


class StateDirBusy(RuntimeError):
    """Another ``kneo serve`` already runs on this state directory."""


def lock_state_dir(settings: Settings) -> IO[bytes]:
    """Hold an exclusive lock on the state directory for the life of the process.

    Recovery resets every running step, so a second process on the same database would steal
    the first one's work. The kernel releases the lock when the process dies, even on SIGKILL.
    """
    state_dir = Path(settings.sqlite_path).parent
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "kneo.lock", "wb")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StateDirBusy(f"another kneo serve is running on {state_dir}") from None
    return handle


def start_worker(settings: Settings, concurrency: int = 4, ready_timeout: float = 30.0) -> Any:
    """Start a Celery worker (thread pool) in this process; returns once it consumes."""
    from kneo.tasks.app import celery_app

    broker_url = "memory://localhost/" if settings.broker_url == "memory://" else settings.broker_url
    celery_app.conf.update(broker_url=broker_url, broker_transport_options={"polling_interval": POLLING_INTERVAL})
    runtime.configure(settings)
    import kneo.tasks.steps
    import kneo.tasks.sweeps  # noqa: F401 - registers the tasks

    ready = threading.Event()
    worker = celery_app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        queues=["kneo.steps", "kneo.sweeps"],
        loglevel="WARNING",
        hostname="kneo-embedded@localhost",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        ready_callback=lambda _consumer: ready.set(),
    )
    thread = threading.Thread(target=worker.start, name="kneo-worker", daemon=True)
    thread.start()
    if not ready.wait(ready_timeout):
        raise RuntimeError(f"the embedded Celery worker did not start within {ready_timeout}s")
    return worker


def start_beat(settings: Settings) -> Any:
    """Start the beat scheduler in a thread of this process."""
    from celery.beat import EmbeddedService

    from kneo.tasks.app import celery_app

    schedule = Path(settings.sqlite_path).parent / "celerybeat-schedule"
    beat = EmbeddedService(celery_app, thread=True, schedule_filename=str(schedule))
    beat.start()
    return beat


def startup_lines(settings: Settings, url: str, recovered: int, examples: bool) -> list[str]:
    """What a person starting ``kneo serve`` needs to know: where, what is stored, whether keys are needed."""
    auth = (
        f"on ({len(settings.api_keys)} API keys; send one as 'Authorization: Bearer KEY')"
        if settings.auth_enabled
        else "off (any client may call; set KNEO_SERV_API_KEYS to require keys)"
    )
    lines = [
        f"kneo {__version__} ready on {url} (API docs {url}/docs)",
        f"state: {Path(settings.sqlite_path).resolve()} (web, worker and beat in this process)",
        f"auth: {auth}",
    ]
    if examples:
        lines.append(f"examples: the spec root's examples package is trusted ({settings.spec_root / 'examples'})")
    if recovered:
        lines.append(f"recovered {recovered} steps of the previous run of kneo serve")
    lines.append("stop with Ctrl-C")
    return lines


def _stop_on_signals(server: BaseWSGIServer) -> None:
    """SIGTERM and SIGINT end ``serve_forever`` (shutdown must run outside the serving thread)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.warning("kneo embedded platform stopping (signal %s)", signum)
        threading.Thread(target=server.shutdown, name="kneo-shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _stop_worker(worker: Any, timeout: float) -> bool:
    """Warm-stop the worker, waiting at most ``timeout``; False when steps are still running."""
    stopper = threading.Thread(target=worker.stop, kwargs={"in_sighandler": False}, daemon=True)
    stopper.start()
    stopper.join(timeout)
    if stopper.is_alive():
        log.warning("steps still running after %ss; they are recovered at the next start", timeout)
        return False
    return True


def serve(settings: Settings, host: str, port: int, shutdown_timeout: float = 10.0) -> None:
    """Run the whole platform in this process until SIGTERM or SIGINT."""
    from werkzeug.serving import make_server

    from kneo.web import create_app

    check_embedded_bind(settings, host)
    lock = lock_state_dir(settings)
    examples = make_examples_importable(settings)
    app = create_app(settings)
    server = make_server(host, port, app, threaded=True)  # bind first: a busy port fails before recovery
    worker = start_worker(settings)
    recovered = recover_previous_process(settings)  # the worker consumes, so re-dispatched steps run
    beat = start_beat(settings)
    _stop_on_signals(server)
    for line in startup_lines(settings, f"http://{host}:{server.port}", recovered, examples):
        log.info("%s", line)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        beat.stop()
        stopped = _stop_worker(worker, shutdown_timeout)
        lock.close()
    if not stopped:
        # The interpreter would join the pool threads at exit and wait for the step to end.
        logging.shutdown()
        os._exit(0)
