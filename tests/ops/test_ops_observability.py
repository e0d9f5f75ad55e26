"""OpenTelemetry spans joined in one trace across web and worker, and /metrics across processes."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.ops.test_ops_support import private_redis
from tests.support import specs
from tests.support.services import KEYS, Api, Topology, free_port, topology_env

pytestmark = pytest.mark.e2e


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    names = []
    parent = span.get("parent_span_id")
    while parent and parent in by_id:
        names.append(by_id[parent]["name"])
        parent = by_id[parent].get("parent_span_id")
    return names


def _traced_workload(topology: Topology) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sync run and a human run resumed, on a started topology (stopped before returning)."""
    topology.start()
    try:
        api = Api(topology.base_url)
        run = api.create_run(specs.echo_chain(2), "trace me")
        assert run["status"] == "completed"
        blocked = api.create_run(specs.human_flow(), "draft")
        task = api.call("GET", f"/v1/human-tasks/{blocked['continuation_id']}", "reviewer").json()
        decision = {"request_id": task["request"]["id"], "decision": "approved"}
        resumed = api.call("POST", f"/v1/human-tasks/{blocked['continuation_id']}/resume", "reviewer", json=decision)
        assert resumed.json()["status"] == "completed"
        return run, blocked
    finally:
        topology.stop()


def test_one_trace_from_request_to_worker(database_url: str, tmp_path: Path) -> None:
    exported = tmp_path / "spans.jsonl"
    with private_redis(tmp_path / "redis") as broker:
        env = topology_env(database_url, 0, KNEO_SERV_BROKER_URL=broker, KNEO_SERV_OTEL_ENABLED="true")
        env["KNEO_SERV_OTEL_EXPORTER"] = f"file:{exported}"
        run, blocked = _traced_workload(Topology(env, free_port(), tmp_path, worker_concurrency=2))
    spans = _spans(exported)
    by_id = {s["span_id"]: s for s in spans}
    request = next(s for s in spans if s["name"] == "POST /v1/runs" and s["attributes"].get("http.route"))
    trace = [s for s in spans if s["trace_id"] == request["trace_id"]]
    names = Counter(s["name"] for s in trace)
    for expected in ("kneo.queue.dispatch", "apply_async/kneo.step.execute", "run/kneo.step.execute"):
        assert names[expected] >= 1, names
    assert names["kneo.worker.lease"] >= 1 and names["kneo.step"] == 2, names
    services = {s["resource"]["service.name"] for s in trace}
    assert {"kneo-web", "kneo-worker"} <= services
    assert len({s["pid"] for s in trace}) >= 2, "the trace crosses processes"
    # The chain: web request → dispatch → publish → worker task → lease, and the steps under the task.
    lease = next(s for s in trace if s["name"] == "kneo.worker.lease")
    assert _ancestors(lease, by_id)[:4] == [
        "run/kneo.step.execute",
        "apply_async/kneo.step.execute",
        "kneo.queue.dispatch",
        "POST /v1/runs",
    ]
    dispatch = next(s for s in trace if s["name"] == "kneo.queue.dispatch")
    assert dispatch["attributes"]["kneo.run.id"] == run["run_id"]
    assert lease["attributes"]["kneo.worker.claimed"] is True
    assert lease["attributes"]["kneo.run.id"] == run["run_id"]
    assert lease["attributes"]["kneo.worker.lease_seconds"] > 0 and lease["attributes"]["kneo.worker.id"]
    step = next(s for s in trace if s["name"] == "kneo.step")
    assert step["attributes"]["kneo.step.outcome"] == "ok" and "kneo.step.input" not in step["attributes"]
    assert any(s["name"].startswith(("SELECT", "INSERT", "UPDATE")) for s in trace), "SQLAlchemy spans"
    lock = next(s for s in spans if s["name"] == "kneo.continuation.lock")
    assert lock["attributes"]["kneo.continuation.id"] == blocked["continuation_id"]
    assert lock["attributes"]["kneo.lock.name"] == f"continuation:{blocked['continuation_id']}"
    assert lock["attributes"]["kneo.lock.acquired"] is True
    resume_trace = {s["name"] for s in spans if s["trace_id"] == lock["trace_id"]}
    assert {"kneo.queue.dispatch", "kneo.worker.lease", "kneo.step"} <= resume_trace


SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([-+\d.eEInf]+)$")


def _scrape(base_url: str) -> dict[str, dict[str, float]]:
    """metric name → {label text: value}, on a fresh connection (any gunicorn worker may answer)."""
    headers = {"Authorization": f"Bearer {KEYS['admin']}", "Connection": "close"}
    text = requests.get(f"{base_url}/metrics", timeout=10, headers=headers).text
    samples: dict[str, dict[str, float]] = defaultdict(dict)
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            samples[match.group(1)][match.group(2) or ""] = float(match.group(3))
    return samples


def _value(samples: dict[str, dict[str, float]], name: str, **labels: str) -> float:
    total = 0.0
    for label_text, value in samples.get(name, {}).items():
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += value
    return total


def _metrics_workload(topology: Topology) -> list[dict[str, dict[str, float]]]:
    """8 two-step runs and a failing run in parallel, one blocked run; then six scrapes."""
    topology.start()
    topology.start_worker("worker2")
    try:
        api = Api(topology.base_url)
        chain = specs.echo_chain(2)
        failing = specs.sequential(
            [specs.function_step("explode", "boom")], functions={"boom": "tests.support.functions.boom"}
        )
        failures: list[str] = []

        def submit(spec: dict[str, Any], text: str) -> None:
            answer = requests.post(
                f"{topology.base_url}/v1/runs",
                json={"input": text, "spec": spec},
                headers={"Authorization": f"Bearer {KEYS['operator']}", "Connection": "close"},
                timeout=60,
            )
            if answer.status_code != 200:
                failures.append(answer.text)

        threads = [threading.Thread(target=submit, args=(chain, f"run {i}")) for i in range(8)]
        threads.append(threading.Thread(target=submit, args=(failing, "fail")))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        blocked = api.create_run(specs.human_flow(), "wait for me")
        assert blocked["status"] == "blocked"
        listed = api.call("GET", "/v1/runs?limit=100").json()
        assert Counter(r["status"] for r in listed["runs"]) == {"completed": 8, "failed": 1, "blocked": 1}
        deadline = time.monotonic() + 30  # beat's first reconcile pass may still be on its way
        while _value(_scrape(topology.base_url), "kneo_sweep_runs_total", sweep="reconcile", result="ok") < 1:
            assert time.monotonic() < deadline, "no reconcile sweep was counted within 30 s"
            time.sleep(0.5)
        return [_scrape(topology.base_url) for _ in range(6)]
    finally:
        topology.stop()


def test_metrics_count_a_known_workload_across_processes(database_url: str, tmp_path: Path) -> None:
    with private_redis(tmp_path / "redis") as broker:
        env = topology_env(database_url, 0, KNEO_SERV_BROKER_URL=broker)
        scrapes = _metrics_workload(Topology(env, free_port(), tmp_path, worker_concurrency=1, web_workers=2))
    for samples in scrapes:  # whichever gunicorn worker answered, the counts agree
        assert _value(samples, "kneo_runs", status="completed") == 8
        assert _value(samples, "kneo_runs", status="failed") == 1
        assert _value(samples, "kneo_runs", status="blocked") == 1
        assert _value(samples, "kneo_human_tasks_open") == 1
        assert _value(samples, "kneo_queue_depth") == 0
        assert _value(samples, "kneo_runs_finished_total", status="completed") == 8
        assert _value(samples, "kneo_runs_finished_total", status="failed") == 1
        assert _value(samples, "kneo_step_duration_seconds_count", kind="agent", outcome="ok") == 8 * 2 + 1
        assert _value(samples, "kneo_step_duration_seconds_count", kind="function", outcome="error") >= 1
        assert _value(samples, "kneo_http_requests_total", method="POST", route="/v1/runs", status="200") == 10
        assert _value(samples, "kneo_sweep_runs_total", sweep="reconcile", result="ok") >= 1
    # Samples came from several processes: both gunicorn workers and both Celery workers wrote files.
    writers = {p.stem.split("_", 1)[1] for p in (tmp_path / "metrics").glob("*.db")}
    assert len(writers) >= 3, writers
