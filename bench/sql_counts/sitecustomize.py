"""Count SQL round trips per process for ``bench/cost_model.py``; loaded only through PYTHONPATH.

When ``KNEO_BENCH_SQL_COUNTS`` names a directory, every psycopg2 connection the process opens
counts at the driver, so statements sent through SQLAlchemy and through raw DBAPI cursors alike
are seen: one byte per ``execute`` appended to ``<dir>/<role>.<pid>``, ``r`` for a read
(SELECT/WITH), ``w`` for INSERT/UPDATE/DELETE, ``o`` for anything else, and ``c`` for each commit
of a transaction that wrote. One ``O_APPEND`` write per statement costs microseconds, against a
PostgreSQL round trip of a few hundred. Nothing happens without the variable, and the product
never imports this module.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _role() -> str:
    command = " ".join(sys.argv)
    if "gunicorn" in command:
        return "web"
    if " beat" in command:
        return "beat"
    if " worker" in command:
        return "worker"
    return "other"


def _install(directory: str) -> None:
    import psycopg2
    import psycopg2.extensions

    state: dict[str, int] = {"pid": -1, "fd": -1}

    def mark(kind: bytes) -> None:
        if state["pid"] != os.getpid():
            state["pid"] = os.getpid()
            path = os.path.join(directory, f"{_role()}.{state['pid']}")
            state["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(state["fd"], kind)

    def statement(connection: Any, query: Any) -> None:
        text = query.decode(errors="replace") if isinstance(query, bytes) else str(query)
        verb = text.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            connection.kneo_bench_wrote = True
            mark(b"w")
        else:
            mark(b"r" if verb.startswith(("SELECT", "WITH")) else b"o")

    class CountingCursor(psycopg2.extensions.cursor):
        def execute(self, query: Any, vars: Any = None) -> Any:
            statement(self.connection, query)
            return super().execute(query, vars)

        def executemany(self, query: Any, vars_list: Any) -> Any:
            statement(self.connection, query)
            return super().executemany(query, vars_list)

    class CountingConnection(psycopg2.extensions.connection):
        kneo_bench_wrote = False

        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("cursor_factory", CountingCursor)
            return super().cursor(*args, **kwargs)

        def commit(self) -> None:
            super().commit()
            if self.kneo_bench_wrote:
                mark(b"c")
            self.kneo_bench_wrote = False

        def rollback(self) -> None:
            super().rollback()
            self.kneo_bench_wrote = False

    connect = psycopg2.connect

    def counting_connect(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("connection_factory", CountingConnection)
        return connect(*args, **kwargs)

    psycopg2.connect = counting_connect


if os.environ.get("KNEO_BENCH_SQL_COUNTS"):
    _install(os.environ["KNEO_BENCH_SQL_COUNTS"])
