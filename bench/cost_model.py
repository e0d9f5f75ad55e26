#!/usr/bin/env python3
"""Cost per unit of work on the production topology: CPU per process group, statements, commits.

Starts gunicorn, a Celery worker, beat, a private Redis and a fresh PostgreSQL database
(``scripts/topology.py``), then

1. runs W1 ``--memory-runs`` times in a row, then W2, W3 and W4, each under ``cpu_account.py``,
   and reports CPU milliseconds per run (W1, W4) or request (W2, W3) for web, worker, beat,
   postgres, redis and the load generator, plus SQL statements, commits and Celery messages per
   unit (W1: the repetition with the median server CPU; W3 reads runs made by W1);
2. memory: resident memory per process group after each of those W1 runs;
3. scale-out: W1 with 1 (the first W1 above), 2 and 4 Celery worker processes (distinct node
   names), its throughput and a check that no step was claimed twice.

Statements and write commits are counted in every topology process by ``bench/sql_counts``
(put on PYTHONPATH for this topology only); PostgreSQL's own ``xact_commit`` of the bench database
is reported beside them (it also counts each single-statement autocommit read).

    python bench/cost_model.py                       # everything: 5 W1 passes, W2-W4
    python bench/cost_model.py --workloads w1 --scale-workers '' --memory-runs 0
    python bench/cost_model.py --serve-only          # start the topology, print its URL, wait

Results: ``bench/results/cost-<timestamp>/cost_model.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cost_report
import db_counters
from proc_groups import DEFAULT_CPU_ACCOUNT, Groups, cpu_account, memory, parent_of
from support import (
    ROOT,
    Topology,
    free_port,
    fresh_database,
    harness_command,
    harness_path,
    private_redis,
    topology_env,
)

WORKER_READY_SECONDS = 60.0


@dataclass
class Bench:
    """A running topology and what is needed to measure it."""

    topology: Topology
    database_url: str
    broker_url: str
    groups: Groups
    counts_dir: Path
    harness: Path
    tool: Path

    @property
    def database(self) -> str:
        return self.database_url.rsplit("/", 1)[1]

    def settled_snapshot(self) -> dict[str, Any]:
        return db_counters.settled_snapshot(self.database, self.counts_dir, self.broker_url)


@contextmanager
def bench_topology(args: argparse.Namespace, workdir: Path) -> Iterator[Bench]:
    """The production topology on a fresh database and a private Redis, counting SQL per process."""
    counts_dir = workdir / "sql"
    counts_dir.mkdir(parents=True, exist_ok=True)
    with fresh_database("kneo_cost") as url, private_redis(workdir / "redis") as (_redis, broker):
        extra = {"KNEO_BENCH_SQL_COUNTS": str(counts_dir), "PYTHONPATH": f"{ROOT / 'bench' / 'sql_counts'}:{ROOT}"}
        port = args.port or free_port()
        env = topology_env(url, broker, **extra)
        topology = Topology(env, port, workdir, args.worker_concurrency, args.web_workers)
        redis_port = int(broker.rsplit(":", 1)[1].split("/")[0])
        groups = Groups.of(port, workdir, url.rsplit("/", 1)[1], redis_port)
        try:
            topology.start()
            wait_for_workers(topology, groups, ["worker"])
            yield Bench(topology, url, broker, groups, counts_dir, harness_path(args.harness), args.cpu_account)
        finally:
            topology.stop()


def wait_for_workers(topology: Topology, groups: Groups, names: list[str]) -> None:
    """Until each named Celery worker has forked its pool (its children exist)."""
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while time.monotonic() < deadline:
        pids = {topology.processes[name].pid for name in names}
        workers = memory(groups).get("worker", {}).get("processes", {})
        children = [pid for pid in workers if parent_of(int(pid)) in pids]
        if len(children) >= len(names) * topology.worker_concurrency:
            time.sleep(2)  # the consumers connect to the broker after the pool is up
            return
        time.sleep(0.5)
    raise TimeoutError(f"Celery workers {names} not ready")


def units_of(workload: str, result: dict[str, Any]) -> int:
    """Runs (W1, W4) or requests issued (W2, W3: measured, warm-up, and the last one in flight per client)."""
    body = result["result"]
    if workload in ("w1", "w4"):
        return int(body["runs_requested"])
    return int(body["requests"]) + int(body["warmup_requests"]) + int(body["concurrency"])


def throughput_of(workload: str, result: dict[str, Any]) -> float | None:
    body = result["result"]
    value = {"w1": body.get("drain", {}).get("runs_per_s_to_completion"), "w4": body.get("resume", {}).get("per_s")}
    return value.get(workload, body.get("req_per_s"))


def read_ids(bench: Bench, path: Path, limit: int = 200) -> list[str]:
    """Write up to ``limit`` completed run ids to ``path`` (W3 reads them instead of seeding its own)."""
    conn = psycopg2.connect(bench.database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT id FROM runs WHERE status = 'completed' ORDER BY created_at LIMIT %s", (limit,))
            ids = [row[0] for row in cursor.fetchall()]
    finally:
        conn.close()
    path.write_text("".join(f"{i}\n" for i in ids))
    return ids


def measure(bench: Bench, workload: str, before: dict[str, Any], *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One workload under cpu_account.py; returns (its cost entry, the settled counters after it)."""
    drained = [sys.executable, str(ROOT / "bench" / "drained.py"), "--broker", bench.broker_url, "--"]
    command = drained + harness_command(bench.harness, workload, bench.topology.base_url, *extra)
    accounting, result = cpu_account(bench.tool, bench.groups, command)
    after = bench.settled_snapshot()
    units = units_of(workload, result)
    counted = db_counters.delta(before, after)
    cpu = {name: round(seconds * 1000 / units, 3) for name, seconds in accounting["cpu_s"].items()}
    entry = {
        "workload": workload,
        "units": units,
        "throughput": throughput_of(workload, result),
        "cpu_ms_per_unit": cpu,
        "statements_per_unit": round(counted["sql_total"]["statements"] / units, 2),
        "write_commits_per_unit": round(counted["sql_total"]["write_commits"] / units, 2),
        "pg_xact_commit_per_unit": round(counted["pg"]["xact_commit"] / units, 2),
        "messages_per_unit": round(counted["redis"]["messages"] / units, 2),
        "queue_drain": next(iter(accounting.pop("extra")), None),
        "counters": counted,
        "accounting": accounting,
        "result": result,
    }
    return entry, after


@dataclass
class Pass:
    """One pass over the workloads on one topology; ``before`` holds the counters the next measurement starts from."""

    bench: Bench
    workdir: Path
    w1_runs: int
    before: dict[str, Any] = field(default_factory=dict)
    workers: list[str] = field(default_factory=lambda: ["worker"])

    def measure(self, workload: str, *extra: str) -> dict[str, Any]:
        if workload == "w1":
            extra = ("--runs", str(self.w1_runs), *extra)
        if workload == "w3" and read_ids(self.bench, self.workdir / "w3-ids.txt"):
            extra = ("--ids-file", str(self.workdir / "w3-ids.txt"), *extra)
        entry, self.before = measure(self.bench, workload, self.before, *extra)
        return entry

    def memory_sample(self, index: int) -> dict[str, Any]:
        sample = {"after_run": index, "groups": memory(self.bench.groups)}
        print(f"memory after W1 #{index}: {cost_report.memory_line(sample)}", flush=True)
        return sample

    def scaled_w1(self, count: int, entry: dict[str, Any] | None = None) -> dict[str, Any]:
        """W1 with ``count`` Celery worker processes (started as needed), and its claim check."""
        while len(self.workers) < count:
            self.workers.append(f"w{len(self.workers) + 1}")
            self.bench.topology.start_worker(self.workers[-1])
        wait_for_workers(self.bench.topology, self.bench.groups, self.workers)
        since = datetime.now(UTC)
        entry = entry or self.measure("w1")
        claims = db_counters.claim_check(self.bench.database_url, since)
        by_id = claims.pop("steps_by_worker_id")
        claims["steps_by_worker_process"] = steps_by_process(self.bench.topology, self.workers, by_id)
        return {"worker_processes": count, **entry, "claims": claims}


def server_cpu(entry: dict[str, Any]) -> float:
    return sum(v for k, v in entry["cpu_ms_per_unit"].items() if k != "load")


def run_pass(bench: Bench, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """W1 ``--memory-runs`` times (memory after each; the first is also the one-worker scale-out step),
    then W2-W4, then W1 with more worker processes."""
    run = Pass(bench, workdir, args.w1_runs, bench.settled_snapshot())
    workloads = [w for w in args.workloads.split(",") if w]
    counts = [int(n) for n in args.scale_workers.split(",") if n]
    w1: list[dict[str, Any]] = []
    report: dict[str, Any] = {"memory": [], "scale_out": []}
    if "w1" in workloads or counts:
        for index in range(1, max(1, args.memory_runs) + 1):
            if index == 1 and 1 in counts:
                report["scale_out"].append(run.scaled_w1(1))
                w1.append({k: v for k, v in report["scale_out"][0].items() if k not in ("worker_processes", "claims")})
            else:
                w1.append(run.measure("w1"))
            if args.memory_runs:
                report["memory"].append(run.memory_sample(index))
    cost = [sorted(w1, key=server_cpu)[(len(w1) - 1) // 2]] if "w1" in workloads else []
    cost += [run.measure(w) for w in workloads if w != "w1"]
    report["cost"] = cost
    report["w1_repeats_server_cpu_ms"] = [round(server_cpu(e), 2) for e in w1]
    report["scale_out"] += [run.scaled_w1(n) for n in counts if n > 1]
    return report


def steps_by_process(topology: Topology, names: list[str], by_worker_id: dict[str, int]) -> dict[str, int]:
    """Steps per Celery worker process (a worker id is ``host-<child pid>-<random>``)."""
    parents = {topology.processes[name].pid: name for name in names}
    totals: dict[str, int] = {}
    for worker_id, steps in by_worker_id.items():
        parts = (worker_id or "").rsplit("-", 2)
        pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
        name = parents.get(parent_of(pid), "unknown")
        totals[name] = totals.get(name, 0) + steps
    return totals


def interrupt(*_: object) -> None:
    """SIGTERM and SIGHUP stop the benchmark like Ctrl-C, so the topology is always taken down."""
    raise KeyboardInterrupt


def serve(bench: Bench) -> None:
    print(f"kneo topology up at {bench.topology.base_url} (keys svc-token, rev-token); Ctrl-C stops it", flush=True)
    with suppress(KeyboardInterrupt):
        signal.pause()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--harness", help="kneo_load.py (default: KNEO_LOAD_HARNESS or the shared tools copy)")
    parser.add_argument("--cpu-account", type=Path, default=DEFAULT_CPU_ACCOUNT, help="cpu_account.py")
    parser.add_argument("--workloads", default="w1,w2,w3,w4")
    parser.add_argument("--memory-runs", type=int, default=3, help="consecutive W1 passes, memory sampled after each")
    parser.add_argument("--scale-workers", default="1,2,4", help="Celery worker processes per scale-out step")
    parser.add_argument("--w1-runs", type=int, default=500, help="runs per W1 pass")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="prefork children per worker process")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="web port (default: a free one)")
    parser.add_argument("--label", default="", help="free text stored with the results")
    parser.add_argument("--serve-only", action="store_true", help="start the topology, print its URL and wait")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, interrupt)
    workdir = ROOT / "bench" / "results" / time.strftime("cost-%Y%m%d-%H%M%S")
    with bench_topology(args, workdir) as bench:
        if args.serve_only:
            serve(bench)
            return
        started = time.monotonic()
        report: dict[str, Any] = {"label": args.label, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
        report["settings"] = {
            "worker_concurrency": args.worker_concurrency,
            "web_workers": args.web_workers,
            "w1_runs": args.w1_runs,
        }
        report.update(run_pass(bench, args, workdir))
        report["wall_seconds"] = round(time.monotonic() - started, 1)
    (workdir / "cost_model.json").write_text(json.dumps(report, indent=2, default=str))
    markdown = cost_report.render(report)
    (workdir / "cost_model.md").write_text(markdown)
    print(markdown)
    print(f"results in {workdir}")


if __name__ == "__main__":
    main()
