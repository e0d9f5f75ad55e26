"""What the stores did: PostgreSQL's per-database counters, the SQL round trips counted in each
process (``bench/sql_counts``), the private Redis's command counts (a Celery message is one
``LPUSH``), and the claim check of a scale-out phase."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import redis
from support import PG_ADMIN

STEP_START_EVENT = "run_started"  # the agent run of one step execution
STATS_SETTLE_SECONDS = 11.0  # an idle backend publishes its pending counters within 10 s (PostgreSQL 15)
PG_FIELDS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "sessions",
)
MARKS = {"r": "reads", "w": "writes", "o": "other", "c": "write_commits"}


def pg_counters(database: str) -> dict[str, int]:
    """pg_stat_database counters of ``database`` (read from the maintenance database, so not counted)."""
    conn = psycopg2.connect(PG_ADMIN)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(PG_FIELDS)} FROM pg_stat_database WHERE datname = %s", (database,))
            row = cursor.fetchone()
    finally:
        conn.close()
    return dict(zip(PG_FIELDS, row or (0,) * len(PG_FIELDS), strict=True))


def sql_counts(directory: Path) -> dict[str, dict[str, int]]:
    """Statements and write commits per process role, summed over the ``<role>.<pid>`` files."""
    totals: dict[str, Counter[str]] = {}
    for path in directory.glob("*.*"):
        role = path.name.split(".", 1)[0]
        totals.setdefault(role, Counter()).update(path.read_bytes().decode("ascii", errors="replace"))
    return {role: {label: counts[mark] for mark, label in MARKS.items()} for role, counts in totals.items()}


def redis_counters(url: str) -> dict[str, int]:
    """Commands the broker served, and how many were LPUSH (messages published to a queue)."""
    client = redis.Redis.from_url(url)
    try:
        pushes = client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0)
        return {"commands": int(client.info("stats")["total_commands_processed"]), "messages": int(pushes)}
    finally:
        client.close()


def snapshot(database: str, counts_dir: Path, broker_url: str) -> dict[str, Any]:
    """Every counter at one instant."""
    return {"pg": pg_counters(database), "sql": sql_counts(counts_dir), "redis": redis_counters(broker_url)}


def settled_snapshot(database: str, counts_dir: Path, broker_url: str) -> dict[str, Any]:
    """A snapshot taken once every backend has published its counters."""
    time.sleep(STATS_SETTLE_SECONDS)
    return snapshot(database, counts_dir, broker_url)


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Counter differences: PostgreSQL's, and statements/commits per role plus their total."""
    pg = {key: after["pg"][key] - before["pg"][key] for key in PG_FIELDS}
    roles: dict[str, dict[str, int]] = {}
    for role, counts in after["sql"].items():
        old = before["sql"].get(role, {})
        roles[role] = {label: counts[label] - old.get(label, 0) for label in MARKS.values()}
    total = {label: sum(r[label] for r in roles.values()) for label in MARKS.values()}
    total["statements"] = total["reads"] + total["writes"] + total["other"]
    broker = {key: after["redis"][key] - before["redis"][key] for key in after["redis"]}
    return {"pg": pg, "sql": roles, "sql_total": total, "redis": broker}


def claim_check(database_url: str, since: datetime) -> dict[str, Any]:
    """Step rows of the runs created since ``since``: a completed step claimed twice shows attempt > 1,
    one executed twice two ``run_started`` trace events."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                """SELECT count(*), count(*) FILTER (WHERE s.status = 'completed'),
                          count(*) FILTER (WHERE s.status = 'completed' AND s.attempt <> 1),
                          count(DISTINCT s.worker_id)
                   FROM step_runs s JOIN runs r ON r.id = s.run_id WHERE r.created_at >= %s""",
                (since,),
            )
            steps, completed, not_once, workers = cursor.fetchone()
            cursor.execute(
                """SELECT s.worker_id, count(*) FROM step_runs s JOIN runs r ON r.id = s.run_id
                   WHERE r.created_at >= %s GROUP BY s.worker_id""",
                (since,),
            )
            by_worker = dict(cursor.fetchall())
            cursor.execute(
                """SELECT count(*) FROM (SELECT t.run_id, t.data->>'step_id' FROM trace_events t
                   JOIN runs r ON r.id = t.run_id WHERE r.created_at >= %s AND t.type = %s
                   GROUP BY 1, 2 HAVING count(*) > 1) twice""",
                (since, STEP_START_EVENT),
            )
            started_twice = cursor.fetchone()[0]
    finally:
        conn.close()
    return {
        "steps": steps,
        "completed": completed,
        "completed_attempt_not_1": not_once,
        "started_twice": started_twice,
        "worker_children": workers,
        "steps_by_worker_id": by_worker,
    }
