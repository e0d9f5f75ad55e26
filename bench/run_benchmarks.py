#!/usr/bin/env python3
"""Run the load harness (W1-W4) against the production topology on this machine and print medians.

Starts gunicorn + Celery worker + beat on a fresh PostgreSQL database and Redis (scripts/topology.py),
then runs the ``kneo_load.py`` load harness (``--harness PATH``) each workload ``--repeat`` times.
Results go to ``bench/results/<timestamp>/summary.json``.

    python bench/run_benchmarks.py --harness path/to/kneo_load.py --workloads w1,w2,w3 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from topology import Topology  # noqa: E402

PG_ADMIN = os.environ.get("KNEO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KEYS = "svc:svc-token:service;reviewer:rev-token:reviewer"
HEADLINE: dict[str, tuple[str | None, str]] = {
    "w1": ("drain", "runs_per_s_to_completion"),
    "w2": (None, "req_per_s"),
    "w3": (None, "req_per_s"),
    "w4": ("resume", "per_s"),
}


def _database() -> str:
    name = f"kneo_bench_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _headline(workload: str, result: dict[str, object]) -> float | None:
    section, key = HEADLINE[workload]
    value = result.get("result", {})
    if section is not None and isinstance(value, dict):
        value = value.get(section, {})
    found = value.get(key) if isinstance(value, dict) else None
    return float(found) if isinstance(found, int | float) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--harness", type=Path, default=os.environ.get("KNEO_LOAD_HARNESS"), help="path to kneo_load.py"
    )
    parser.add_argument("--workloads", default="w1,w2,w3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=18044)
    parser.add_argument("--worker-concurrency", type=int, default=6)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    if args.harness is None:
        parser.error("--harness PATH (or KNEO_LOAD_HARNESS) must name the kneo_load.py load harness")
    database_url = _database()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KNEO_SERV_")},
        "KNEO_SERV_DATABASE_URL": database_url,
        "KNEO_SERV_BROKER_URL": os.environ.get("KNEO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "KNEO_SERV_API_KEYS": KEYS,
        "KNEO_SERV_REQUEST_LOGS": "false",
    }
    workdir = ROOT / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
    topology = Topology(env, args.port, workdir, args.worker_concurrency, args.web_workers).start()
    summary: dict[str, object] = {"database": "postgresql", "worker_concurrency": args.worker_concurrency}
    try:
        for workload in args.workloads.split(","):
            runs = []
            for _ in range(args.repeat):
                command = [
                    sys.executable,
                    str(args.harness),
                    workload,
                    "--base-url",
                    topology.base_url,
                    "--api-key",
                    "svc-token",
                    "--resume-api-key",
                    "rev-token",
                ]
                out = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(out.stderr.strip().splitlines()[0], flush=True)
                time.sleep(2)
            values = [v for v in (_headline(workload, r) for r in runs) if v is not None]
            summary[workload] = {
                "median": statistics.median(values) if values else None,
                "values": values,
                "runs": runs,
            }
            print(f"{workload}: median {summary[workload]['median']} over {values}", flush=True)  # type: ignore[index]
    finally:
        topology.stop()
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"results in {workdir / 'summary.json'}")


if __name__ == "__main__":
    main()
