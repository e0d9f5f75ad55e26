"""List queries: filtered, sorted and paginated in SQL (never in Python memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, undefer

from kneo.errors import Unprocessable
from kneo.models import AuditEvent, Checkpoint, HumanTask, Run, TraceEvent

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
            "limit": self.limit,
            "offset": self.offset,
            "sort_by": self.sort_by,
            "sort_order": self.sort_order,
        }


def _order(column: InstrumentedAttribute[Any], order: str, tiebreak: InstrumentedAttribute[Any]) -> list[Any]:
    direction = column.desc() if order == "desc" else column.asc()
    tie = tiebreak.desc() if order == "desc" else tiebreak.asc()
    return [column.is_(None), direction, tie]


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
    session: Session, stmt: Select[Any], where: Sequence[ColumnElement[bool]], page: Page, order: list[Any]
) -> tuple[list[Any], int]:
    filtered = stmt.where(*where)
    total = session.execute(select(func.count()).select_from(filtered.order_by(None).subquery())).scalar_one()
    if total == 0 or page.offset >= total:
        return [], total
    rows = session.execute(filtered.order_by(*order).limit(page.limit).offset(page.offset)).scalars().all()
    return list(rows), total


def list_runs(session: Session, status: str | None, page: Page) -> tuple[list[Run], int]:
    column = _sort_column(RUN_SORT, page)
    where = [Run.status == status] if status else []
    stmt = select(Run).options(undefer(Run.spec))
    return _paged(session, stmt, where, page, _order(column, page.sort_order, Run.id))


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
    if filters.get("status"):
        where.append(HumanTask.status == filters["status"])
    if filters.get("escalated") is not None:
        flag = HumanTask.escalated_at.is_not(None)
        where.append(flag if filters["escalated"] else ~flag)
    return _paged(session, select(HumanTask), where, page, _order(column, page.sort_order, HumanTask.id))


def list_audit(session: Session, filters: Mapping[str, Any], limit: int, offset: int = 0) -> list[AuditEvent]:
    """Audit events matching every given filter (event_type, run_id, actor), newest first by default."""
    stmt = select(AuditEvent)
    for name in ("event_type", "run_id", "actor"):
        if filters.get(name):
            stmt = stmt.where(getattr(AuditEvent, name) == filters[name])
    columns = (AuditEvent.created_at, AuditEvent.id)
    descending = filters.get("sort_order", "desc") == "desc"
    stmt = stmt.order_by(*(c.desc() if descending else c.asc() for c in columns)).limit(limit).offset(offset)
    return list(session.execute(stmt).scalars())
