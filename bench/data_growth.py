#!/usr/bin/env python3
"""Data growth: how every list and per-run route answers as the database fills up.

For each size it starts the production topology on a fresh PostgreSQL database, makes a few real
runs (a completed sequential chain, a completed graph-free agent run, a run blocked at a human
step), then clones them in SQL until the database holds N runs with the same shape of step rows,
trace events, checkpoints, human tasks and audit events per run. Each route is then asked
``--repeat`` times, one request at a time (nothing else loads the web tier), and the median and
p95 latency are printed as a Markdown table and written to ``bench/results/``.

    python bench/data_growth.py --sizes 1000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from topology import Topology, free_port, start_private_redis  # noqa: E402

PG_ADMIN = os.environ.get("KNEO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "svc-token"
CHILD_TABLES = ("step_runs", "trace_events", "checkpoints", "human_tasks", "audit_events")
ID_COLUMNS = frozenset({"id", "run_id", "continuation_id", "step_run_id"})
CHAIN_COLUMNS = frozenset({"seq", "prev_hash", "hash"})  # clones are seed data, outside the audit chain
DOCUMENT_COLUMNS = frozenset({"document", "list_document"})  # stored answers: the clone's own id inside
BATCH = 20_000
BRIDGE = {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}


def agent(name: str) -> dict[str, Any]:
    return {"name": name, "strategy": {"type": "simple"}, "runtime_preferences": dict(BRIDGE)}


def template_specs() -> list[tuple[dict[str, Any], str]]:
    chain = [{"id": f"s{i}", "kind": "agent", "ref": f"a{i}"} for i in range(3)]
    sequential = {
        "version": "v1",
        "agent": agent("root"),
        "workflow": {"type": "sequential", "name": "growth-chain", "steps": chain},
        "components": {"agents": {f"a{i}": agent(f"a{i}") for i in range(3)}},
    }
    human = {
        "version": "v1",
        "agent": agent("root"),
        "workflow": {
            "type": "sequential",
            "name": "growth-approval",
            "steps": [{"id": "draft", "kind": "agent", "ref": "w"}, {"id": "ok", "kind": "human", "ref": "boss"}],
        },
        "components": {"agents": {"w": agent("w")}, "humans": {"boss": {"description": "Approve"}}},
    }
    single = {"version": "v1", "agent": agent("solo")}
    return [(sequential, "workflow"), (sequential, "workflow"), (single, "agent"), (human, "workflow")]


@contextmanager
def database() -> Iterator[str]:
    name = f"kneo_growth_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A Redis server of the benchmark's own, so no other worker on this machine takes its messages."""
    process, url = start_private_redis(workdir)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def topology_env(database_url: str, broker_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")}
    env.update(
        KNEO_SERV_DATABASE_URL=database_url,
        KNEO_SERV_BROKER_URL=broker_url,
        KNEO_SERV_API_KEYS=f"svc:{KEY}:service",
        KNEO_SERV_REQUEST_LOGS="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def make_templates(base_url: str) -> list[str]:
    headers = {"Authorization": f"Bearer {KEY}"}
    ids = []
    for spec, target in template_specs():
        body = {"input": "growth", "spec": spec, "target": target}
        answer = requests.post(f"{base_url}/v1/runs", json=body, headers=headers, timeout=60)
        answer.raise_for_status()
        ids.append(answer.json()["run_id"])
    return ids


def columns(cursor: Any, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return list(cursor.fetchall())


def clone_expression(name: str, data_type: str) -> str:
    """The value of ``name`` in copy number ``g``: fresh ids, timestamps moved back ``g`` seconds."""
    quoted = f'"{name}"'
    if name in CHAIN_COLUMNS:
        return "NULL"
    if name in DOCUMENT_COLUMNS:
        new_id = "md5(\"id\" || ':' || g)::uuid::text"
        return f"convert_to(replace(convert_from({quoted}, 'UTF8'), \"id\", {new_id}), 'UTF8')"
    if name in ID_COLUMNS:
        return f"CASE WHEN {quoted} IS NULL THEN NULL ELSE md5({quoted} || ':' || g)::uuid::text END"
    if data_type.startswith("timestamp"):
        return f"{quoted} - g * interval '1 second'"
    return quoted


def clone(cursor: Any, table: str, key: str, templates: list[str], first: int, last: int) -> None:
    cols = columns(cursor, table)
    names = ", ".join(f'"{n}"' for n, _ in cols)
    values = ", ".join(clone_expression(n, t) for n, t in cols)
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {values} FROM {table}, generate_series(%s, %s) AS g "
        f"WHERE {key} = ANY(%s)",
        (first, last, templates),
    )


def grow(database_url: str, templates: list[str], runs: int) -> None:
    """Clone the template runs (and everything they own) until the database holds ``runs`` runs."""
    copies = max(0, runs // len(templates) - 1)
    started = time.monotonic()
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cursor:
            # Seed data: no foreign-key triggers per cloned row (the clones are consistent by
            # construction) and no wait for the WAL flush at each batch.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET synchronous_commit = off")
            for first in range(1, copies + 1, BATCH):
                last = min(first + BATCH - 1, copies)
                clone(cursor, "runs", "id", templates, first, last)
                for table in CHILD_TABLES:
                    clone(cursor, table, "run_id", templates, first, last)
                conn.commit()
                seeded = last * len(templates) + len(templates)
                print(f"  seeded {seeded:,} runs in {time.monotonic() - started:.0f} s", file=sys.stderr)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"  seeded and analysed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        conn.close()


def counts(database_url: str) -> dict[str, int]:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            found = {}
            for table in ("runs", *CHILD_TABLES):
                cursor.execute(f"SELECT count(*) FROM {table}")
                found[table] = int(cursor.fetchone()[0])
            return found
    finally:
        conn.close()


def routes(templates: list[str], blocked_task: str | None) -> dict[str, str]:
    run = templates[0]
    found = {
        "GET /runs (default page, 100)": "/v1/runs",
        "GET /runs": "/v1/runs?limit=50",
        "GET /runs?workflow_name=": "/v1/runs?limit=50&workflow_name=growth-approval",
        "GET /runs?status=completed": "/v1/runs?limit=50&status=completed",
        "GET /runs?offset=9000": "/v1/runs?limit=50&offset=9000",
        "GET /runs?sort_by=created_at": "/v1/runs?limit=50&sort_by=created_at",
        "GET /human-tasks": "/v1/human-tasks",
        "GET /audit-events": "/v1/audit-events",
        "GET /runs/{id}": f"/v1/runs/{run}",
        "GET /runs/{id}/trace": f"/v1/runs/{run}/trace",
        "GET /runs/{id}/checkpoints": f"/v1/runs/{run}/checkpoints",
        "GET /runs/{id}/graph": f"/v1/runs/{run}/graph",
        "GET /audit-events?run_id=": f"/v1/audit-events?run_id={run}",
    }
    if blocked_task:
        found["GET /human-tasks/{id}"] = f"/v1/human-tasks/{blocked_task}"
    return found


def time_route(base_url: str, path: str, repeat: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {KEY}"}
    session = requests.Session()
    session.get(base_url + path, headers=headers, timeout=120).raise_for_status()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        session.get(base_url + path, headers=headers, timeout=120).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
    }


def blocked_task_id(base_url: str, run_id: str) -> str | None:
    answer = requests.get(f"{base_url}/v1/runs/{run_id}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    return answer.json().get("continuation_id")


def measure(size: int, repeat: int, workdir: Path) -> dict[str, Any]:
    with database() as url, private_redis(workdir / f"growth-{size}" / "redis") as broker:
        topology = Topology(topology_env(url, broker), free_port(), workdir / f"growth-{size}", worker_concurrency=2)
        try:
            topology.start()
            templates = make_templates(topology.base_url)
            time.sleep(2)
            grow(url, templates, size)
            task = blocked_task_id(topology.base_url, templates[-1])
            timings = {
                name: time_route(topology.base_url, path, repeat) for name, path in routes(templates, task).items()
            }
            return {"runs": size, "rows": counts(url), "routes": timings}
        finally:
            topology.stop()


def table(results: list[dict[str, Any]]) -> str:
    names = list(results[0]["routes"])
    header = "| route | " + " | ".join(f"{r['runs']:,} runs (median / p95 ms)" for r in results) + " |"
    lines = [header, "|---|" + "---|" * len(results)]
    for name in names:
        cells = [f"{r['routes'][name]['median_ms']} / {r['routes'][name]['p95_ms']}" for r in results]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    rows = " · ".join(f"{r['runs']:,}: " + ", ".join(f"{t} {n:,}" for t, n in r["rows"].items()) for r in results)
    return "\n".join(lines) + f"\n\nRows: {rows}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated run counts")
    parser.add_argument("--repeat", type=int, default=30, help="requests per route")
    args = parser.parse_args()
    out = ROOT / "bench" / "results" / time.strftime("growth-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(int(size), args.repeat, out) for size in args.sizes.split(",")]
    (out / "growth.json").write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
