"""Per-step retries, time limits and continue on the production topology; sync waits block nothing."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import specs
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(env={"KNEO_TEST_MARKER_DIR": "{workdir}", "KNEO_TEST_SLOW_SECONDS": "3"})


FUNCTIONS = {
    "hang": "tests.support.functions.hang",
    "marked": "tests.support.functions.fail_once_per_marker",
    "upper": "tests.support.functions.upper",
    "slow": "tests.support.functions.marked_slow",
}


def test_retry_with_backoff_completes(stack: Api) -> None:
    spec = specs.sequential([specs.function_step("f", "marked", max_retries=2)], functions=FUNCTIONS)
    text = f"retry-{uuid.uuid4().hex[:8]}"
    run = stack.create_run(spec, text)
    assert run["status"] == "completed", run
    assert run["output_text"] == f"second time lucky: {text}"
    failed = stack.call("GET", f"/v1/runs/{run['run_id']}/trace?event_type=run_started").json()
    assert failed["run_id"] == run["run_id"]


def test_step_timeout_is_a_step_failure_handled_by_its_policy(stack: Api) -> None:
    continue_spec = specs.sequential(
        [
            specs.function_step("stuck", "hang", timeout_seconds=2, on_error="continue"),
            specs.function_step("after", "upper"),
        ],
        functions=FUNCTIONS,
    )
    run = stack.create_run(continue_spec, "passes through")
    assert run["status"] == "completed", run
    assert run["output_text"] == "PASSES THROUGH"
    fail_spec = specs.sequential([specs.function_step("stuck", "hang", timeout_seconds=2)], functions=FUNCTIONS)
    failed = stack.create_run(fail_spec, "gives up")
    assert failed["status"] == "failed"
    assert failed["error"] == {"message": "Operation timed out after 2 seconds.", "type": "StepTimeout"}


def test_continue_reruns_a_failed_sequential_run_from_its_last_checkpoint(stack: Api) -> None:
    spec = specs.sequential(
        [specs.function_step("first", "upper"), specs.function_step("flaky", "marked")], functions=FUNCTIONS
    )
    text = f"cont-{uuid.uuid4().hex[:8]}"
    run = stack.create_run(spec, text)
    assert run["status"] == "failed"
    continued = stack.call("POST", f"/v1/runs/{run['run_id']}/continue")
    assert continued.status_code == 200, continued.text
    body = continued.json()
    assert body["status"] == "completed"
    assert body["output_text"] == f"second time lucky: {text.upper()}"
    final = stack.run(run["run_id"])
    assert final["visited_steps"] == ["first", "flaky"]
    audit = stack.call("GET", f"/v1/audit-events?run_id={run['run_id']}&event_type=run.continued").json()
    assert audit["count"] == 1


def test_sync_runs_waiting_do_not_block_other_requests(stack: Api, tmp_path: Path) -> None:
    spec = specs.sequential([specs.function_step("s", "slow")], functions=FUNCTIONS)
    with ThreadPoolExecutor(6) as pool:
        waiting = [pool.submit(stack.create_run, spec, f"wait {i}") for i in range(6)]
        time.sleep(0.5)
        started = time.perf_counter()
        health = stack.call("GET", "/v1/healthz", role=None)
        listing = stack.call("GET", "/v1/runs?limit=5")
        elapsed = time.perf_counter() - started
        results = [future.result() for future in waiting]
    assert health.status_code == 200 and listing.status_code == 200
    assert elapsed < 2.5, f"requests waited {elapsed:.2f}s behind 3-second sync runs"
    assert all(r["status"] == "completed" for r in results)
