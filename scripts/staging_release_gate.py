#!/usr/bin/env python3
"""Release gate for a staging deployment: the settings file, the /v1 smoke, optional load.

    python scripts/staging_release_gate.py --env-file deploy/staging.env --base-url https://staging.example.com

1. ``--env-file`` is validated with the renderer's rules (scripts/render_staging_env.py: required
   settings, no placeholder left, operator/reviewer/viewer keys, payload capture off, provider
   secret checks on), and the scoped smoke tokens are taken from its ``KNEO_SERV_API_KEYS``;
2. ``deployment_smoke`` runs on ``/v1`` with ``--expect-auth`` (it includes ``/readyz``);
3. ``/readyz`` answers 200 with every check ok;
4. with ``--duration`` > 0, a closed loop of synchronous one-step ``POST /runs`` at
   ``--concurrency``: every run must complete, p95 under ``--max-p95-ms``, throughput over ``--min-rps``.

Without ``--env-file`` the keys come from the flags of deployment_smoke (or its variables).
Exit status 0 only when all pass.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deployment_smoke import Client, add_client_arguments, client_from_args, echo_spec, run_smoke
from render_staging_env import api_key_roles, read_env_file, validate


def readiness(client: Client) -> tuple[bool, str]:
    response = client.call("GET", "/readyz")
    checks = (response.body or {}).get("metadata", {}).get("checks", {}) if isinstance(response.body, dict) else {}
    failing = sorted(name for name, check in checks.items() if isinstance(check, dict) and check.get("ok") is False)
    ok = response.status == 200 and not failing
    return ok, f"HTTP {response.status}" + (f", failing checks: {', '.join(failing)}" if failing else "")


def latency_check(client: Client, concurrency: int, duration: float) -> dict[str, Any]:
    """Closed loop of sync one-step runs; latencies of completed runs and the failures."""
    spec = echo_spec(1)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def loop(worker: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.call("POST", "/runs", "operator", {"input": f"gate {worker}-{i}", "spec": spec})
            elapsed = time.perf_counter() - started
            i += 1
            status = response.body.get("status") if isinstance(response.body, dict) else None
            with lock:
                if response.status == 200 and status == "completed":
                    latencies.append(elapsed)
                else:
                    failures.append(f"HTTP {response.status} {status}")

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies) + len(failures),
        "completed": len(latencies),
        "failures": failures[:10],
        "failure_count": len(failures),
        "rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1) if ordered else None,
    }


def load_check(client: Client, args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    """The latency check against the gate's thresholds; its report with ``ok``."""
    latency = latency_check(client, args.concurrency, args.duration)
    ok = (
        latency["failure_count"] == 0
        and latency["completed"] > 0
        and (latency["p95_ms"] or 0) <= args.max_p95_ms
        and latency["rps"] >= args.min_rps
    )
    say(
        f"{'✓' if ok else '✗'} latency: {latency['completed']} sync runs, {latency['rps']} runs/s, "
        f"p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms (max {args.max_p95_ms:g}), "
        f"{latency['failure_count']} failures"
    )
    return {**latency, "ok": ok, "max_p95_ms": args.max_p95_ms, "min_rps": args.min_rps}


def apply_env_file(args: argparse.Namespace) -> list[str]:
    """Validate ``args.env_file`` and take the scoped keys from it; returns the problems found."""
    values = read_env_file(args.env_file)
    problems = validate(values)
    roles = api_key_roles(values.get("KNEO_SERV_API_KEYS") or "")
    for role in ("operator", "reviewer", "viewer"):
        setattr(args, f"{role}_key", roles.get(role) or getattr(args, f"{role}_key"))
    args.api_prefix = "/v1"
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_client_arguments(parser)
    parser.add_argument("--env-file", type=Path, help="the staging settings (deploy/staging.env) to validate and use")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=0.0, help="seconds of load (0: no load check)")
    parser.add_argument("--max-p95-ms", type=float, default=2000.0)
    parser.add_argument("--min-rps", type=float, default=1.0)
    parser.add_argument("--no-auth", action="store_true", help="the deployment runs without keys (not for production)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    say = (lambda _line: None) if args.json else print
    checks_ok = []
    if args.env_file:
        problems = apply_env_file(args)
        report["env_file"] = {"ok": not problems, "path": str(args.env_file), "problems": problems}
        say(f"{'✓' if not problems else '✗'} {args.env_file}: " + ("; ".join(problems) or "valid"))
        checks_ok.append(not problems)
    client = client_from_args(args)
    smoke = run_smoke(client, expect_auth=not args.no_auth, out=say)
    report["smoke"] = smoke
    checks_ok.append(all(c["ok"] for c in smoke))
    ready, detail = readiness(client)
    report["readiness"] = {"ok": ready, "detail": detail}
    say(f"{'✓' if ready else '✗'} readiness: {detail}")
    checks_ok.append(ready)
    if args.duration > 0:
        report["latency"] = load_check(client, args, say)
        checks_ok.append(report["latency"]["ok"])
    passed = all(checks_ok)
    report["ok"] = passed
    if args.json:
        print(json.dumps(report))
    else:
        print("release gate: " + ("PASSED" if passed else "FAILED"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
