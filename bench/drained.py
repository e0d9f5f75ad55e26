#!/usr/bin/env python3
"""Run a command, then wait until the broker holds no step message, queued or unacknowledged.

``cost_model.py`` runs each workload through this under ``cpu_account.py``, so the work a workload
leaves behind in the queue (late or repeated deliveries) is charged to that workload and the next
one starts from an empty queue. Prints one JSON line: the command's exit status, the step
messages still queued when it ended, and the seconds until the queue was empty.

    python bench/drained.py --broker redis://127.0.0.1:6390/0 -- python kneo_load.py w1 ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import redis

QUEUE = "kneo.steps"
UNACKED = "unacked"


def pending(client: redis.Redis, queue: str = QUEUE) -> int:
    """Step messages waiting in the queue (every priority list) plus messages delivered but not acked."""
    queued = sum(int(client.llen(key)) for key in client.scan_iter(match=f"{queue}*"))
    return queued + int(client.hlen(UNACKED))


def wait_empty(client: redis.Redis, timeout: float, quiet_polls: int = 3) -> float:
    """Seconds until ``pending`` read zero ``quiet_polls`` times in a row (raises after ``timeout``)."""
    started = time.monotonic()
    zeros = 0
    while zeros < quiet_polls:
        zeros = zeros + 1 if pending(client) == 0 else 0
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{pending(client)} step messages still pending after {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", required=True, help="the topology's Redis URL")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    client = redis.Redis.from_url(args.broker)
    status = subprocess.call(command)
    left = pending(client)
    seconds = wait_empty(client, args.timeout)
    print(json.dumps({"exit": status, "pending_at_end": left, "drain_seconds": round(seconds, 2)}), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
