#!/usr/bin/env python3
"""Measure the platform's own cost per step, in process, without Celery: statements, commits, time.

python bench/step_cost.py --database-url postgresql://postgres@127.0.0.1/kneo_bench --runs 200
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

from sqlalchemy import event

from kneo import migrate
from kneo.agents.executor import execute_unit, runs_inline
from kneo.config import load_settings
from kneo.db import make_engine, make_session_factory, transaction, utcnow
from kneo.workflows.runs import RunRequest, submit_run
from kneo.workflows.steps import PlanCache, claim_inline, claim_step, complete_step

SPEC = {
    "version": "v1",
    "agent": {"name": "root"},
    "workflow": {"type": "sequential", "name": "bench", "steps": ["a", "b", "c"]},
    "components": {"agents": {n: {"name": n} for n in "abc"}},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    settings = load_settings({"KNEO_SERV_DATABASE_URL": args.database_url})
    engine = make_engine(settings, pool_pre_ping=False)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    counts = {"statements": 0, "commits": 0}
    event.listen(engine, "before_cursor_execute", lambda *a: counts.__setitem__("statements", counts["statements"] + 1))
    event.listen(engine, "commit", lambda *a: counts.__setitem__("commits", counts["commits"] + 1))
    plans = PlanCache()
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    cpu_started = time.process_time()
    if profiler:
        profiler.enable()
    steps = 0
    create_time = 0.0
    for index in range(args.runs):
        t0 = time.perf_counter()
        with sessions() as session, transaction(session):
            _run, transition = submit_run(
                session, RunRequest(input=f"bench {index}", spec=SPEC), "bench", settings, utcnow(), "run.created"
            )
        create_time += time.perf_counter() - t0
        pending = list(transition.dispatches)
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
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
    print(
        f"runs={args.runs} steps={steps} seconds={elapsed:.2f} create_ms={create_time / args.runs * 1000:.2f} "
        f"per_step_ms={(elapsed - create_time) / steps * 1000:.2f} "
        f"statements/run={counts['statements'] / args.runs:.1f} "
        f"commits/run={counts['commits'] / args.runs:.1f} python_cpu_ms/run={cpu / args.runs * 1000:.2f}"
    )


if __name__ == "__main__":
    main()
