"""Run-settled notifications: workers publish after commit, sync requests wait on them.

With Redis the notification crosses processes (pub/sub); on the embedded default the worker
runs in the web process and an in-process registry is enough. Waiters also re-check the
database now and then, so a lost notification only delays an answer, never loses it.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

log = logging.getLogger(__name__)
CHANNEL = "kneo:run-settled"
SUBSCRIBE_WAIT_SECONDS = 2.0


class LocalNotifier:
    """In-process registry of waiters keyed by run id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[threading.Event]] = defaultdict(list)

    def register(self, run_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._waiters[run_id].append(event)
        return event

    def unregister(self, run_id: str, event: threading.Event) -> None:
        with self._lock:
            waiters = self._waiters.get(run_id)
            if waiters and event in waiters:
                waiters.remove(event)
                if not waiters:
                    del self._waiters[run_id]

    def wake(self, run_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(run_id, ()))
        for event in waiters:
            event.set()

    def publish(self, run_id: str) -> None:
        self.wake(run_id)


class RedisNotifier(LocalNotifier):
    """Publishes on a Redis channel; one listener thread per process wakes local waiters."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self._redis: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._listener: threading.Thread | None = None
        self._listener_lock = threading.Lock()
        self._subscribed = threading.Event()

    def register(self, run_id: str) -> threading.Event:
        self._ensure_listener()
        self._subscribed.wait(SUBSCRIBE_WAIT_SECONDS)  # the first waiter must not miss an early publish
        return super().register(run_id)

    def publish(self, run_id: str) -> None:
        try:
            self._redis.publish(CHANNEL, run_id)
        except Exception:
            log.warning("run-settled notification not published", exc_info=True)

    def _ensure_listener(self) -> None:
        with self._listener_lock:
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="kneo-notify", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "subscribe":
                        self._subscribed.set()  # Redis confirmed: every later publish reaches us
                        continue
                    data = message.get("data")
                    if message.get("type") == "message" and isinstance(data, bytes):
                        self.wake(data.decode())
            except Exception:
                self._subscribed.clear()
                log.warning("notification listener lost Redis; retrying", exc_info=True)
                threading.Event().wait(1.0)


_notifiers: dict[str, LocalNotifier] = {}
_notifiers_lock = threading.Lock()


def notifier_for(broker_url: str) -> LocalNotifier:
    """The process-wide notifier for this broker."""
    with _notifiers_lock:
        if broker_url not in _notifiers:
            redis_url = broker_url.startswith(("redis://", "rediss://", "unix://"))
            _notifiers[broker_url] = RedisNotifier(broker_url) if redis_url else LocalNotifier()
        return _notifiers[broker_url]
