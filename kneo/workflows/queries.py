"""List queries: filtered, sorted and paginated in SQL (never in Python memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session, undefer

from kneo.errors import Unprocessable
from kneo.models import AuditEvent, Checkpoint, HumanTask, Run, StepRun, TraceEvent

RUN_SORT = {
    "updated_at": Run.updated_at,
    "created_at": Run.created_at,
    "started_at": Run.started_at,
    "completed_at": Run.completed_at,
    "status": Run.status,
    "id": Run.id,
    "agent_name": Run.agent_name,
    "workflow_name": Run.workflow_name,
    "workflow_kind": Run.workflow_kind,
}
AUDIT_SORT = {
    "created_at": AuditEvent.created_at,
    "event_type": AuditEvent.event_type,
    "actor": AuditEvent.actor,
    "run_id": AuditEvent.run_id,
}
CHECKPOINT_SORT = {"sequence": Checkpoint.sequence, "created_at": Checkpoint.created_at, "type": Checkpoint.type}
TRACE_SORT = {"timestamp": TraceEvent.sequence, "sequence": TraceEvent.sequence, "type": TraceEvent.type}
TASK_SORT = {
    "id": HumanTask.id,
    "created_at": HumanTask.created_at,
    "updated_at": HumanTask.updated_at,
    "expires_at": HumanTask.expires_at,
    "status": HumanTask.status,
    "run_id": HumanTask.run_id,
}


WINDOW = 10000  # how far paging reaches: the largest offset a list accepts


@dataclass(frozen=True)
class Page:
    """Paging parameters as echoed in responses."""

    limit: int
    offset: int
    sort_by: str
    sort_order: str

    def meta(self, count: int, total: int) -> dict[str, Any]:
        return {
            "count": count,
            "total": total,
            "window": WINDOW,
            "limit": self.limit,
            "offset": self.offset,
            "sort_by": self.sort_by,
            "sort_order": self.sort_order,
        }


def _order(column: InstrumentedAttribute[Any], order: str, tiebreak: InstrumentedAttribute[Any]) -> list[Any]:
    """ORDER BY the column (nulls last in both directions), then the tiebreak.

    Written as plain column terms so an index on ``(column, tiebreak)`` serves the first page of a
    list without sorting the table.
    """
    descending = order == "desc"
    direction = column.desc() if descending else column.asc()
    if _nullable(column):
        direction = direction.nulls_last()
    return [direction, tiebreak.desc() if descending else tiebreak.asc()]


def _nullable(column: InstrumentedAttribute[Any]) -> bool:
    return bool(column.property.columns[0].nullable)


def _sort_column(columns: Mapping[str, Any], page: Page) -> Any:
    column = columns.get(page.sort_by)
    if column is None:
        raise Unprocessable(
            f"sort_by must be one of: {', '.join(sorted(columns))}.",
            code="invalid_sort_by",
            allowed=sorted(columns),
        )
    return column


def _paged(
    session: Session,
    stmt: Select[Any],
    where: Sequence[ColumnElement[bool]],
    page: Page,
    order: list[Any],
    cap: int | None = None,
) -> tuple[list[Any], int]:
    """One page of ``stmt`` under ``where`` and the total; the count reads only what ``where`` needs
    (an index-only scan where one fits), never the selected rows, and stops at ``cap`` if given."""
    entity = stmt.column_descriptions[0]["entity"]
    total = _count(session, entity, where, cap)
    if total == 0 or page.offset >= total:
        return [], total
    rows = session.execute(stmt.where(*where).order_by(*order).limit(page.limit).offset(page.offset)).scalars().all()
    return list(rows), total


def _count(session: Session, entity: Any, where: Sequence[ColumnElement[bool]], cap: int | None) -> int:
    if cap is None:
        return int(session.execute(select(func.count()).select_from(entity).where(*where)).scalar_one())
    bounded = select(literal(1)).select_from(entity).where(*where).limit(cap).subquery()
    return int(session.execute(select(func.count()).select_from(bounded)).scalar_one())


def run_document(engine: Engine, run_id: str) -> bytes | None:
    """The stored ``GET /runs/{id}`` document of a settled run (None for another or unknown run):
    one primary-key lookup as a driver-level statement, no ORM and no statement compilation.
    Through an engine connection, so a lost database is SQLAlchemy's error (the API's 503) and a
    dead pooled connection is invalidated."""
    sql = "SELECT document FROM runs WHERE id = " + ("?" if engine.dialect.paramstyle == "qmark" else "%s")
    with engine.connect() as connection:
        row = connection.exec_driver_sql(sql, (run_id,)).first()
    return bytes(row[0]) if row is not None and row[0] is not None else None


def list_runs(session: Session, filters: Mapping[str, Any], page: Page) -> tuple[list[Run], int]:
    """Runs matching every given filter of ``GET /runs`` (status, workflow kind and name, session,
    error, creation window, text in the output); the total counts at most :data:`WINDOW` runs."""
    ids, total = list_run_ids(session, filters, page)
    found = {
        run.id: run for run in session.execute(select(Run).options(undefer(Run.spec)).where(Run.id.in_(ids))).scalars()
    }
    return [found[i] for i in ids if i in found], total


def list_run_ids(session: Session, filters: Mapping[str, Any], page: Page) -> tuple[list[str], int]:
    """The ids of one page of :func:`list_runs` in order (read from an index where one fits) and
    the total, capped at :data:`WINDOW` as the contract caps it."""
    column = _sort_column(RUN_SORT, page)
    order = _order(column, page.sort_order, Run.id)
    return _paged(session, select(Run.id), run_filters(filters), page, order, cap=WINDOW)


def run_list_documents(session: Session, ids: Sequence[str]) -> dict[str, bytes | None]:
    """The stored list items of the runs ``ids`` (None for a run that has none)."""
    if not ids:
        return {}
    rows = session.execute(select(Run.id, Run.list_document).where(Run.id.in_(ids))).all()
    return {run_id: bytes(doc) if doc is not None else None for run_id, doc in rows}


def run_filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for name in ("status", "workflow_kind", "workflow_name"):
        if filters.get(name):
            where.append(getattr(Run, name) == filters[name])
    if filters.get("session_id") is not None:
        where.append(Run.session_id == filters["session_id"])
    if filters.get("has_error") is not None:
        where.append(Run.error.is_not(None) if filters["has_error"] else Run.error.is_(None))
    if filters.get("created_after"):
        where.append(Run.created_at >= timestamp_parameter(filters, "created_after"))
    if filters.get("created_before"):
        where.append(Run.created_at <= timestamp_parameter(filters, "created_before"))
    if filters.get("q"):
        pattern = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(Run.output_text.ilike(pattern, escape="\\"))
    return where


def timestamp_parameter(filters: Mapping[str, Any], name: str) -> datetime:
    """An ISO-8601 query parameter as an aware datetime (UTC when it names no zone); 422 otherwise."""
    try:
        value = datetime.fromisoformat(filters[name])
    except ValueError:
        raise Unprocessable(
            f"Query parameter '{name}' must be an ISO-8601 timestamp; got '{filters[name]}'.",
            code="invalid_timestamp",
            param=name,
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_checkpoints(session: Session, run_id: str, type_: str | None, page: Page) -> tuple[list[Checkpoint], int]:
    column = _sort_column(CHECKPOINT_SORT, page)
    where = [Checkpoint.run_id == run_id, *([Checkpoint.type == type_] if type_ else [])]
    return _paged(session, select(Checkpoint), where, page, _order(column, page.sort_order, Checkpoint.sequence))


def list_trace(session: Session, run_id: str, event_type: str | None, page: Page) -> tuple[list[TraceEvent], int]:
    column = _sort_column(TRACE_SORT, page)
    where = [TraceEvent.run_id == run_id, *([TraceEvent.type == event_type] if event_type else [])]
    return _paged(session, select(TraceEvent), where, page, _order(column, page.sort_order, TraceEvent.sequence))


def list_human_tasks(session: Session, filters: Mapping[str, Any], page: Page) -> tuple[list[HumanTask], int]:
    column = _sort_column(TASK_SORT, page)
    where: list[ColumnElement[bool]] = []
    if filters.get("run_id"):
        where.append(HumanTask.run_id == filters["run_id"])
    if filters.get("workflow_kind"):
        where.append(HumanTask.workflow_kind == filters["workflow_kind"])
    status = filters.get("status", "pending")
    if status == "escalated":
        where += [HumanTask.status == "pending", HumanTask.escalated_at.is_not(None)]
    elif status != "all":
        where.append(HumanTask.status == status)
    if filters.get("assignee"):
        where.append(HumanTask.assignee == filters["assignee"])
    if filters.get("escalated") is not None:
        flag = HumanTask.escalated_at.is_not(None)
        where.append(flag if filters["escalated"] else ~flag)
    return _paged(session, select(HumanTask), where, page, _order(column, page.sort_order, HumanTask.id))


def list_audit(session: Session, filters: Mapping[str, Any], page: Page) -> tuple[list[AuditEvent], int]:
    """Audit events matching every given filter (event_type, run_id, actor), newest first by default."""
    column = _sort_column(AUDIT_SORT, page)
    names = [name for name in ("event_type", "run_id", "actor") if filters.get(name)]
    where = [getattr(AuditEvent, name) == filters[name] for name in names]
    last = AuditEvent.id.desc() if page.sort_order == "desc" else AuditEvent.id.asc()
    order = [*_order(column, page.sort_order, AuditEvent.created_at), last]
    return _paged(session, select(AuditEvent), where, page, order, cap=WINDOW)


def list_step_runs(session: Session, run_id: str, limit: int = 500) -> list[StepRun]:
    """The run's executable units in the order they were created (the step timeline)."""
    stmt = select(StepRun).where(StepRun.run_id == run_id).order_by(StepRun.ordinal, StepRun.created_at).limit(limit)
    return list(session.execute(stmt).scalars())


def recent_workers(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Workers that claimed a step since ``since``: id, last claim and how many steps."""
    stmt = (
        select(StepRun.worker_id, func.max(StepRun.started_at), func.count())
        .where(StepRun.worker_id.is_not(None), StepRun.started_at >= since)
        .group_by(StepRun.worker_id)
        .order_by(func.max(StepRun.started_at).desc())
        .limit(100)
    )
    return [{"worker_id": w, "last_claim_at": last, "steps": n} for w, last, n in session.execute(stmt)]
