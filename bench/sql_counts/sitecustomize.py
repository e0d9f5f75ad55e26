"""Count SQL round trips per process for ``bench/cost_model.py``; loaded only through PYTHONPATH.

When ``KNEO_BENCH_SQL_COUNTS`` names a directory, every SQLAlchemy engine of the process appends one
byte per cursor execute to ``<dir>/<role>.<pid>``: ``r`` for a read (SELECT/WITH), ``w`` for
INSERT/UPDATE/DELETE, ``o`` for anything else, and ``c`` for each commit of a transaction that
wrote. One ``O_APPEND`` write per statement costs microseconds, against a PostgreSQL round trip of
a few hundred. Nothing happens without the variable, and the product never imports this module.
"""

from __future__ import annotations

import os
import sys
from typing import Any

WROTE = "kneo_bench_wrote"


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
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    state: dict[str, int] = {"pid": -1, "fd": -1}

    def mark(kind: bytes) -> None:
        if state["pid"] != os.getpid():
            state["pid"] = os.getpid()
            path = os.path.join(directory, f"{_role()}.{state['pid']}")
            state["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(state["fd"], kind)

    def executed(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        verb = statement.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            conn.info[WROTE] = True
            mark(b"w")
        else:
            mark(b"r" if verb.startswith(("SELECT", "WITH")) else b"o")

    def committed(conn: Any) -> None:
        if conn.info.pop(WROTE, False):
            mark(b"c")

    def rolled_back(conn: Any) -> None:
        conn.info.pop(WROTE, None)

    event.listen(Engine, "before_cursor_execute", executed)
    event.listen(Engine, "commit", committed)
    event.listen(Engine, "rollback", rolled_back)


if os.environ.get("KNEO_BENCH_SQL_COUNTS"):
    _install(os.environ["KNEO_BENCH_SQL_COUNTS"])
