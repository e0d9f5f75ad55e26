"""Rows collected during a transaction and written as one multi-row INSERT per table.

Appending records (checkpoints, trace events, step rows, audit events) do not go through the
ORM unit of work: :func:`add_row` keeps them with the session, and they are written with Core
before the session runs any other statement (so reads in the same transaction see them) and
before it commits. Rows added inside a savepoint that rolls back are dropped with it. *Late*
rows wait for whoever completes them at commit (:func:`take_late`, the audit chain's linking).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, event, insert, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

_KEY = "kneo.writes.pending"
Pending = list[tuple[Table, dict[str, Any], SessionTransaction | None, bool]]


def add_row(session: Session, table: Table, row: dict[str, Any], *, late: bool = False) -> dict[str, Any]:
    """Keep ``row`` to be inserted into ``table`` by this session's transaction; returns ``row``."""
    pending: Pending = session.info.setdefault(_KEY, [])
    pending.append((table, row, session.get_nested_transaction() or session.get_transaction(), late))
    return row


def take_late(session: Session, table: Table) -> list[dict[str, Any]]:
    """Remove and return the late rows of ``table`` this session keeps, in the order added."""
    pending: Pending = session.info.get(_KEY) or []
    taken = [entry[1] for entry in pending if entry[3] and entry[0] is table]
    if taken:
        session.info[_KEY] = [entry for entry in pending if not (entry[3] and entry[0] is table)]
    return taken


def amend_row(session: Session, table: Table, row: dict[str, Any], **values: Any) -> None:
    """Change ``row`` (from :func:`add_row`) before it is written, or update it once it is."""
    pending: Pending = session.info.get(_KEY) or []
    if any(entry[1] is row for entry in pending):
        row.update(values)
        return
    row.update(values)
    session.execute(update(table).where(table.c.id == row["id"]).values(**values))


def write_pending(session: Session, flush_orm: bool = True) -> None:
    """Write every kept row but the late ones: the ORM's pending changes first (unless
    ``flush_orm`` is false), then one INSERT per table."""
    pending: Pending | None = session.info.get(_KEY)
    if not pending:
        return
    late = [entry for entry in pending if entry[3]]
    if len(late) == len(pending):
        return
    if late:
        session.info[_KEY] = late
    else:
        del session.info[_KEY]
    if flush_orm:
        session.flush()
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for table, row, _tx, is_late in pending:
        if not is_late:
            by_table.setdefault(table, []).append(row)
    connection = session.connection()
    for table, rows in by_table.items():
        connection.execute(insert(table), rows)


def _before_statement(state: ORMExecuteState) -> None:
    """Kept rows reach the database before any statement (ORM changes too, unless the session
    is in ``no_autoflush``)."""
    if _KEY in state.session.info:
        write_pending(state.session, flush_orm=state.session.autoflush)


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """Forget the rows kept inside ``previous`` (or any transaction nested in it)."""
    pending: Pending | None = session.info.get(_KEY)
    if pending:
        session.info[_KEY] = [entry for entry in pending if not _inside(entry[2], previous)]


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)


if not event.contains(Session, "before_commit", write_pending):
    event.listen(Session, "do_orm_execute", _before_statement)
    event.listen(Session, "before_commit", write_pending)
    event.listen(Session, "after_soft_rollback", _drop_rolled_back)
    event.listen(Session, "after_transaction_end", _transaction_end)
