#!/usr/bin/env python3
"""Measure the platform's own cost per step, in process, without Celery: statements, commits, time.

python bench/step_cost.py --database-url postgresql://postgres@127.0.0.1/kneo_bench --runs 200

Reports the Python CPU of the step path (claim, execute, complete) apart from run creation, and,
for a local PostgreSQL, the CPU of the backends serving the step path (from /proc).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from kneo import migrate
from kneo.agents.executor import execute_unit, runs_inline
from kneo.config import load_settings
from kneo.db import make_engine, make_session_factory, transaction, utcnow
from kneo.workflows.runs import RunRequest, submit_run
from kneo.workflows.steps import PlanCache, claim_inline, claim_step, complete_step
from kneo.workflows.transitions import Dispatch

SPEC = {
    "version": "v1",
    "agent": {"name": "root"},
    "workflow": {"type": "sequential", "name": "bench", "steps": ["a", "b", "c"]},
    "components": {"agents": {n: {"name": n} for n in "abc"}},
}


def _backend_cpu(engine: Engine) -> float:
    """CPU seconds used so far by the PostgreSQL backends of ``engine``'s pooled connections."""
    if engine.dialect.name != "postgresql":
        return 0.0
    total = 0.0
    for pid in _BACKENDS:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


_BACKENDS: set[int] = set()


def _remember_backend(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("SELECT pg_backend_pid()")
    _BACKENDS.add(cursor.fetchone()[0])
    cursor.close()


@contextmanager
def _cpu(totals: dict[str, float], key: str) -> Iterator[None]:
    started = time.process_time()
    try:
        yield
    finally:
        totals[key] += time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="runs done first, not measured (imports, caches)")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured runs (process CPU time)")
    args = parser.parse_args()
    settings = load_settings({"KNEO_SERV_DATABASE_URL": args.database_url})
    engine = make_engine(settings, pool_pre_ping=False)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _remember_backend)
    migrate.upgrade(engine)
    engine.dispose()
    _BACKENDS.clear()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    sessions = make_session_factory(engine)
    counts = {"statements": 0, "commits": 0}
    event.listen(engine, "before_cursor_execute", lambda *a: counts.__setitem__("statements", counts["statements"] + 1))
    event.listen(engine, "commit", lambda *a: counts.__setitem__("commits", counts["commits"] + 1))
    plans = PlanCache()
    for index in range(args.warmup):
        with sessions() as session, transaction(session):
            _run, transition = submit_run(
                session, RunRequest(input=f"warm {index}", spec=SPEC), "bench", settings, utcnow(), "run.created"
            )
        _drive(sessions, plans, list(transition.dispatches))
    counts.update(statements=0, commits=0)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    started = time.perf_counter()
    cpu_started = time.process_time()
    if profiler:
        profiler.enable()
    steps = 0
    create_time = 0.0
    cpu_split = {"create": 0.0, "steps": 0.0}
    step_counts = {"statements": 0, "commits": 0}
    pg_steps = 0.0
    for index in range(args.runs):
        t0 = time.perf_counter()
        with _cpu(cpu_split, "create"), sessions() as session, transaction(session):
            _run, transition = submit_run(
                session, RunRequest(input=f"bench {index}", spec=SPEC), "bench", settings, utcnow(), "run.created"
            )
        create_time += time.perf_counter() - t0
        pending = list(transition.dispatches)
        before = dict(counts)
        pg_before = _backend_cpu(engine)
        with _cpu(cpu_split, "steps"):
            steps += _drive(sessions, plans, pending)
        pg_steps += _backend_cpu(engine) - pg_before
        for key in step_counts:
            step_counts[key] += counts[key] - before[key]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
    per_run = 1000 / args.runs
    print(
        f"runs={args.runs} steps={steps} seconds={elapsed:.2f} create_ms={create_time * per_run:.2f} "
        f"per_step_ms={(elapsed - create_time) / steps * 1000:.2f} "
        f"statements/run={counts['statements'] / args.runs:.1f} "
        f"commits/run={counts['commits'] / args.runs:.1f} python_cpu_ms/run={cpu * per_run:.2f}\n"
        f"step path per run: python_cpu_ms={cpu_split['steps'] * per_run:.2f} "
        f"postgres_cpu_ms={pg_steps * per_run:.2f} statements={step_counts['statements'] / args.runs:.1f} "
        f"commits={step_counts['commits'] / args.runs:.1f} (create: python_cpu_ms={cpu_split['create'] * per_run:.2f})"
    )


def _drive(sessions: sessionmaker[Session], plans: PlanCache, pending: list[Dispatch]) -> int:
    """Run every step of one run the way the worker does; returns the number of steps executed."""
    steps = 0
    while pending:
        dispatch = pending.pop()
        with sessions() as session:
            with transaction(session):
                claimed = claim_step(session, dispatch.step_run_id, "bench", utcnow(), 5, plans, 300)
            while claimed is not None:
                outcome = execute_unit(claimed, ())
                with transaction(session):
                    now = utcnow()
                    done = complete_step(session, claimed, outcome, now, 300)
                    claimed = claim_inline(session, done, claimed.plan, "bench", now, 5, runs_inline)
                pending.extend(done.dispatches)
                steps += 1
    return steps


if __name__ == "__main__":
    main()
