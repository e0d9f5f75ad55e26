#!/usr/bin/env python3
"""Run the load harness (W1-W4) against the production topology on this machine and print medians.

Starts gunicorn + Celery worker + beat on a fresh PostgreSQL database and a private Redis
(scripts/topology.py), then runs the ``kneo_load.py`` load harness (``--harness PATH``) each workload
``--repeat`` times.
Results go to ``bench/results/<timestamp>/summary.json``.

    python bench/run_benchmarks.py --harness path/to/kneo_load.py --workloads w1,w2,w3 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from support import ROOT, Topology, fresh_database, harness_command, harness_path, private_redis, topology_env

HEADLINE: dict[str, tuple[str | None, str]] = {
    "w1": ("drain", "runs_per_s_to_completion"),
    "w2": (None, "req_per_s"),
    "w3": (None, "req_per_s"),
    "w4": ("resume", "per_s"),
}


def _headline(workload: str, result: dict[str, object]) -> float | None:
    section, key = HEADLINE[workload]
    value = result.get("result", {})
    if section is not None and isinstance(value, dict):
        value = value.get(section, {})
    found = value.get(key) if isinstance(value, dict) else None
    return float(found) if isinstance(found, int | float) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--harness", help="path to kneo_load.py (default: KNEO_LOAD_HARNESS or the shared tools copy)")
    parser.add_argument("--workloads", default="w1,w2,w3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=18044)
    parser.add_argument("--worker-concurrency", type=int, default=6)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    harness = harness_path(args.harness)
    workdir = ROOT / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
    summary: dict[str, object] = {"database": "postgresql", "worker_concurrency": args.worker_concurrency}
    with fresh_database() as database_url, private_redis(workdir / "redis") as (_redis, broker_url):
        env = topology_env(database_url, broker_url)
        topology = Topology(env, args.port, workdir, args.worker_concurrency, args.web_workers).start()
        try:
            for workload in args.workloads.split(","):
                summary[workload] = _repeat(harness, workload, topology.base_url, args.repeat)
        finally:
            topology.stop()
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"results in {workdir / 'summary.json'}")


def _repeat(harness: Path, workload: str, base_url: str, repeat: int) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        command = harness_command(harness, workload, base_url)
        out = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(out.stderr.strip().splitlines()[0], flush=True)
        time.sleep(2)
    values = [v for v in (_headline(workload, r) for r in runs) if v is not None]
    median = statistics.median(values) if values else None
    print(f"{workload}: median {median} over {values}", flush=True)
    return {"median": median, "values": values, "runs": runs}


if __name__ == "__main__":
    main()
