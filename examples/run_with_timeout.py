#!/usr/bin/env python3
"""A run with a wall-clock deadline: submit, let it block, watch beat time it out.

``POST /v1/runs`` accepts ``timeout_seconds``: the run gets ``deadline_at = now + N``. This
example submits ``examples/human_approval_workflow.yaml`` asynchronously with a short deadline;
the run blocks at its human step, nobody decides, and beat's deadline sweep (every
``KNEO_SERV_DEADLINE_SWEEP_INTERVAL_SECONDS``, default 5; ``flask --app wsgi sweeps deadlines``
runs it once, now) moves it to the terminal status ``timed_out`` with the error type
``run_timed_out`` and a ``run.timed_out`` audit event. Standard library plus PyYAML:

    python examples/run_with_timeout.py --base-url http://127.0.0.1:8000 --api-key "$OPERATOR" --timeout-seconds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parent / "human_approval_workflow.yaml"


def call(base_url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    """One JSON request; raises on an HTTP error."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="", help="a key with runs:write and audit:read (operator)")
    parser.add_argument("--timeout-seconds", type=int, default=3, help="the run's deadline")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the sweep")
    args = parser.parse_args(argv)
    body = {
        "input": "release notes for 0.4",
        "spec": yaml.safe_load(SPEC.read_text()),
        "async_mode": True,
        "timeout_seconds": args.timeout_seconds,
    }
    run = call(args.base_url, args.api_key, "POST", "/v1/runs", body)
    run_id = run["run_id"]
    print(f"run {run_id}: {run['status']}, deadline in {args.timeout_seconds}s")
    give_up = time.monotonic() + args.timeout_seconds + args.wait
    while run["status"] != "timed_out" and time.monotonic() < give_up:
        time.sleep(1)
        run = call(args.base_url, args.api_key, "GET", f"/v1/runs/{run_id}")
    events = call(args.base_url, args.api_key, "GET", f"/v1/audit-events?run_id={run_id}")["events"]
    print(f"run {run_id}: {run['status']} ({(run.get('error') or {}).get('type')})")
    print("audit: " + ", ".join(event["event_type"] for event in events))
    return 0 if run["status"] == "timed_out" else 1


if __name__ == "__main__":
    sys.exit(main())
