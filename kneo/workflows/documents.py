"""Response documents of settled runs: built once when the run settles, read back as stored bytes.

A settled run (terminal, or blocked at a human step) does not change until something moves it on
(a resume, a continue, a cancel), so the exact JSON that ``GET /runs/{id}`` answers and the item
that ``GET /runs`` lists are serialised, redacted, in the transaction that settles the run and
stored on the run row. Reads of such a run fetch one column by primary key and send it as it is;
running runs have no documents and are rendered from their row, and whatever changes a settled
run without storing new documents drops them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, undefer

from kneo.models import Run, RunStatus
from kneo.redaction import redact
from kneo.workflows import queries
from kneo.workflows.serialize import run_state, run_status_view

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(payload: Any) -> bytes:
    """Compact JSON of an already-redacted ``payload`` (anything JSON cannot hold becomes its ``str``)."""
    try:
        return orjson.dumps(payload, default=str, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits, keys orjson refuses
        return json.dumps(payload, separators=(",", ":"), default=str).encode()


def status_document(run: Run) -> bytes:
    """The RunStatusResponse of ``run`` as ``GET /runs/{id}`` answers it."""
    return dumps(redact(run_status_view(run)))


def list_document(run: Run) -> bytes:
    """The RunState item of ``run`` as ``GET /runs`` lists it."""
    return dumps(redact(run_state(run)))


def list_items(session: Session, ids: Sequence[str]) -> list[bytes]:
    """The list items of the runs ``ids`` in that order: stored documents where there are, the
    others (runs that can still change) rendered from their rows."""
    items = queries.run_list_documents(session, ids)
    missing = [run_id for run_id in ids if items.get(run_id) is None]
    if missing:
        stmt = select(Run).options(undefer(Run.spec)).where(Run.id.in_(missing))
        for run in session.execute(stmt).scalars():
            items[run.id] = list_document(run)
    return [document for run_id in ids if (document := items.get(run_id)) is not None]


def list_body(key: str, items: Sequence[bytes], meta: dict[str, Any]) -> bytes:
    """A list envelope ``{key: [items], **meta}`` around ready item documents."""
    return b'{"' + key.encode() + b'":[' + b",".join(items) + b"]," + dumps(meta)[1:]


def store_documents(run: Run) -> None:
    """Store both documents on a settled ``run`` (call it last in the transaction that settles
    the run, after every change to the row); clear them on any other run."""
    if run.status in RunStatus.SETTLED:
        run.document = status_document(run)
        run.list_document = list_document(run)
    else:
        drop_documents(run)


def drop_documents(run: Run) -> None:
    """Forget the documents of a run that changes again."""
    run.document = None
    run.list_document = None


@event.listens_for(Session, "before_flush")
def _drop_stale_documents(session: Session, _context: Any, _instances: Any) -> None:
    """Whatever changes a run that has (or had) documents without rewriting them drops them, so a
    stored document is never older than its row (a late sibling step of a failed run, a resume,
    a continue, an expiry)."""
    for obj in session.dirty:
        if not isinstance(obj, Run):
            continue
        state = inspect(obj)
        status = state.attrs.status.history
        if obj.status not in RunStatus.SETTLED and not status.deleted:
            continue  # a run that was not settled has no documents
        if state.attrs.document.history.added or not session.is_modified(obj):
            continue
        drop_documents(obj)
