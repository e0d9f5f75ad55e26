"""The tamper-evident audit trail: a hash chain written by concurrent web and worker processes.

Each tampering test changes the database behind the platform's back, checks that
``flask --app wsgi audit verify`` names the damage, and undoes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest

from tests.support import specs
from tests.support.services import ROOT, Api

pytestmark = pytest.mark.e2e


def verify(api: Api, **env: str) -> subprocess.CompletedProcess[str]:
    assert api.topology is not None
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"],
        cwd=ROOT,
        env={**api.topology.env, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_intact(api: Api) -> str:
    result = verify(api)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "audit chain OK" in result.stdout
    return result.stdout


def assert_broken(api: Api, words: str) -> None:
    result = verify(api)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "audit chain BROKEN" in result.stderr and words in result.stderr, result.stderr[-2000:]


@pytest.fixture(scope="module")
def chained(stack: Api) -> Iterator[Api]:
    """A trail written by many concurrent requests and both Celery workers."""

    def one(i: int) -> str:
        run = stack.create_run(specs.human_flow(), f"chain {i}")
        task = stack.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer").json()
        body = {"request_id": task["request"]["id"], "decision": "approved"}
        answer = stack.call("POST", f"/v1/human-tasks/{run['continuation_id']}/resume", role="reviewer", json=body)
        assert answer.status_code == 200, answer.text
        return str(stack.create_run(specs.echo_chain(2), f"async {i}", async_mode=True)["run_id"])

    with ThreadPoolExecutor(12) as pool:
        async_runs = list(pool.map(one, range(24)))
    for run_id in async_runs:  # the workers' audit events too, before anything is compared
        stack.wait_status(run_id, {"completed"}, timeout=120)
    yield stack


def chain_rows(api: Api) -> list[tuple[Any, ...]]:
    return api.sql("SELECT seq, id, prev_hash, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq")


def test_concurrent_writers_build_one_unbroken_chain(chained: Api) -> None:
    rows = chain_rows(chained)
    assert len(rows) >= 72  # run.created twice and human.decision once per worker thread's loop
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0][2] == "0" * 64
    assert all(later[2] == earlier[3] for earlier, later in pairwise(rows))
    assert chained.sql("SELECT count(*) FROM audit_events WHERE seq IS NULL") == [(0,)]
    assert f"{len(rows)} events verified" in assert_intact(chained)


def test_audit_listing_returns_the_links_on_request(chained: Api) -> None:
    answer = chained.call("GET", "/v1/audit-events", params={"include_hashes": "true", "limit": 20})
    assert answer.status_code == 200, answer.text
    links = {row[0]: row[1:] for row in chain_rows(chained)}
    for event in answer.json()["events"]:
        assert links[event["seq"]] == (event["id"], event["prev_hash"], event["hash"])
    plain = chained.call("GET", "/v1/audit-events", params={"limit": 1}).json()["events"][0]
    assert "hash" not in plain


def test_an_altered_event_is_named(chained: Api) -> None:
    [(actor,)] = chained.sql("SELECT actor FROM audit_events WHERE seq = 7")
    chained.sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 7")
    try:
        assert_broken(chained, "event 7")
        assert_broken(chained, "was altered")
    finally:
        chained.sql("UPDATE audit_events SET actor = %s WHERE seq = 7", actor)
    chained.sql("UPDATE audit_events SET metadata = metadata || '{\"x\": 1}'::jsonb WHERE seq = 9")
    try:
        assert_broken(chained, "event 9")
    finally:
        chained.sql("UPDATE audit_events SET metadata = metadata - 'x' WHERE seq = 9")
    assert_intact(chained)


def test_a_deleted_event_is_named(chained: Api) -> None:
    [row] = chained.sql("SELECT * FROM audit_events WHERE seq = 11")
    columns = audit_columns(chained)
    chained.sql("DELETE FROM audit_events WHERE seq = 11")
    try:
        assert_broken(chained, "events 11..11 were deleted")
    finally:
        _reinsert(chained, columns, row)
    assert_intact(chained)


def test_a_deleted_tail_and_an_inserted_event_are_named(chained: Api) -> None:
    [(last,)] = chained.sql("SELECT max(seq) FROM audit_events")
    [row] = chained.sql("SELECT * FROM audit_events WHERE seq = %s", last)
    columns = audit_columns(chained)
    chained.sql("DELETE FROM audit_events WHERE seq = %s", last)
    try:
        assert_broken(chained, f"the chain head is at event {last}")
    finally:
        _reinsert(chained, columns, row)
    chained.sql(
        "INSERT INTO audit_events (id, event_type, actor, metadata, created_at) "
        "VALUES ('forged', 'run.created', 'mallory', '{}', now())"
    )
    try:
        assert_broken(chained, "without a chain link were inserted")
    finally:
        chained.sql("DELETE FROM audit_events WHERE id = 'forged'")
    chained.sql(
        "INSERT INTO audit_events (id, event_type, actor, metadata, created_at, seq, prev_hash, hash) "
        "SELECT 'forged', 'run.created', 'mallory', '{}', now(), seq + 1, hash, repeat('f', 64) "
        "FROM audit_events ORDER BY seq DESC LIMIT 1"
    )
    try:
        assert_broken(chained, "was altered")
    finally:
        chained.sql("DELETE FROM audit_events WHERE id = 'forged'")
    assert_intact(chained)


def retention(api: Api, **windows: str) -> None:
    assert api.topology is not None
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "sweeps", "retention"],
        cwd=ROOT,
        env={**api.topology.env, **windows},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_pruned_runs_take_their_events_and_the_chain_still_verifies(chained: Api) -> None:
    runs = [row[0] for row in chained.sql("SELECT id FROM runs WHERE status = 'completed' ORDER BY id LIMIT 3")]
    seqs = [row[0] for row in chained.sql("SELECT seq FROM audit_events WHERE run_id = ANY(%s) ORDER BY seq", runs)]
    assert len(seqs) >= 3
    chained.sql("UPDATE runs SET updated_at = updated_at - interval '30 days' WHERE id = ANY(%s)", runs)
    retention(chained, KNEO_SERV_RETENTION_RUNS_DAYS="7")
    assert chained.sql("SELECT count(*) FROM audit_events WHERE run_id = ANY(%s)", runs) == [(0,)]
    [(metadata,)] = chained.sql("SELECT metadata FROM audit_events WHERE event_type = 'audit.pruned'")
    assert [link[0] for link in metadata["removed"]] == seqs
    assert_intact(chained)
    chained.sql("DELETE FROM audit_events WHERE event_type = 'audit.pruned'")  # the anchor goes too
    assert_broken(chained, f"events {seqs[0]}..{seqs[0]} were deleted")


def test_retention_prune_leaves_an_anchor_and_the_chain_still_verifies(chained: Api) -> None:
    chained.sql("DELETE FROM audit_events")  # a fresh start: the head moves on, the old links are gone
    chained.sql("UPDATE audit_chain_head SET seq = 0, hash = %s", "0" * 64)
    for i in range(25):
        chained.create_run(specs.echo_chain(1), f"prune {i}")
    chained.sql("UPDATE audit_events SET created_at = created_at - interval '30 days' WHERE seq <= 20")
    retention(chained, KNEO_SERV_RETENTION_AUDIT_DAYS="7")
    assert chained.sql("SELECT min(seq) FROM audit_events") == [(21,)]
    [(metadata,)] = chained.sql("SELECT metadata FROM audit_events WHERE event_type = 'audit.pruned'")
    assert metadata["pruned_through_seq"] == 20 and metadata["count"] == 20
    assert "events 21.." in assert_intact(chained)
    chained.sql("DELETE FROM audit_events WHERE seq = 21")  # cut again, without an anchor
    assert_broken(chained, "no audit.pruned anchor")


def audit_columns(api: Api) -> list[str]:
    statement = (
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_events' ORDER BY ordinal_position"
    )
    return [row[0] for row in api.sql(statement)]


def _reinsert(api: Api, columns: list[str], row: tuple[Any, ...]) -> None:
    values = [json.dumps(v) if isinstance(v, dict) else v for v in row]
    placeholders = ", ".join(["%s"] * len(columns))
    api.sql(f"INSERT INTO audit_events ({', '.join(columns)}) VALUES ({placeholders})", *values)
