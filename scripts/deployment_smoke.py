#!/usr/bin/env python3
"""Smoke-test a deployed kneo service through its public front (nginx or gunicorn).

Checks health, readiness, authentication (401 without a key, 403 for a viewer on writes), spec
validation, a synchronous run, a human resume, the audit listing, the credential inventory and a
policy update (a viewer is refused with 403). Standard library only, so it runs anywhere:

    python scripts/deployment_smoke.py --base-url https://kneo.example.com --api-prefix /v1 \\
        --admin-key "$ADMIN" --operator-key "$OP" --reviewer-key "$REV" --viewer-key "$VIEW" --expect-auth

Keys default to KNEO_SMOKE_{ADMIN,OPERATOR,REVIEWER,VIEWER}_KEY. Exit status 0 when every check
passes, 1 otherwise; ``--json`` prints a machine-readable summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _agent(name: str) -> dict[str, Any]:
    return {"name": name, "strategy": {"type": "simple"}, "runtime_preferences": {"preferred_mode": "bridge"}}


def echo_spec(steps: int = 1) -> dict[str, Any]:
    """A sequential workflow of offline agents (no model provider needed)."""
    names = [f"echo{i}" for i in range(steps)]
    return {
        "version": "v1",
        "agent": _agent("smoke-agent"),
        "workflow": {
            "type": "sequential",
            "name": "smoke-echo",
            "steps": [{"id": n, "kind": "agent", "ref": n} for n in names],
        },
        "components": {"agents": {n: _agent(n) for n in names}},
    }


def human_spec() -> dict[str, Any]:
    """draft (agent) → approve (human) → publish (agent)."""
    return {
        "version": "v1",
        "agent": _agent("smoke-agent"),
        "workflow": {
            "type": "sequential",
            "name": "smoke-approval",
            "steps": [
                {"id": "draft", "kind": "agent", "ref": "writer"},
                {"id": "approve", "kind": "human", "ref": "approver"},
                {"id": "publish", "kind": "agent", "ref": "publisher"},
            ],
        },
        "components": {
            "agents": {"writer": _agent("writer"), "publisher": _agent("publisher")},
            "humans": {"approver": {"description": "Approve the smoke draft", "timeout_seconds": 3600}},
        },
    }


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Client:
    base_url: str
    prefix: str = ""
    timeout: float = 60.0
    keys: dict[str, str | None] = field(default_factory=dict)

    def call(self, method: str, path: str, role: str | None = None, body: Any = None, **headers: str) -> Response:
        url = self.base_url.rstrip("/") + self.prefix + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        key = self.keys.get(role) if role else None
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, _json(answer.read()), dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            return Response(error.code, _json(error.read()), dict(error.headers.items()))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


class CheckFailed(AssertionError):
    """One smoke check did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_status(response: Response, status: int, what: str) -> Any:
    expect(response.status == status, f"{what}: expected HTTP {status}, got {response.status}: {response.body!r:.300}")
    return response.body


class Smoke:
    """The checks, in order; later checks use what earlier ones created."""

    def __init__(self, client: Client, expect_auth: bool) -> None:
        self.client = client
        self.expect_auth = expect_auth
        self.environment = f"smoke-{uuid.uuid4().hex[:8]}"
        self.run_id: str | None = None

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        checks = [("health", self.health), ("readiness", self.readiness)]
        if self.expect_auth:
            checks.append(("auth", self.auth))
        return [
            *checks,
            ("spec validation", self.spec_validation),
            ("sync run", self.sync_run),
            ("human resume", self.human_resume),
            ("audit listing", self.audit_listing),
            ("credential inventory", self.credentials),
            ("policy update", self.policy_update),
        ]

    def health(self) -> str:
        request_id = f"smoke-{uuid.uuid4().hex}"
        response = self.client.call("GET", "/healthz", X_Request_ID=request_id)
        body = expect_status(response, 200, "GET /healthz")
        expect(body.get("ok") is True, f"healthz not ok: {body}")
        echoed = {k.lower(): v for k, v in response.headers.items()}.get("x-request-id")
        expect(echoed == request_id, f"X-Request-ID not propagated: sent {request_id}, got {echoed}")
        return f"version {body.get('version')}, X-Request-ID echoed"

    def readiness(self) -> str:
        body = expect_status(self.client.call("GET", "/readyz"), 200, "GET /readyz")
        expect(body.get("metadata", {}).get("ready") is True, f"not ready: {body}")
        return "ready"

    def auth(self) -> str:
        expect_status(self.client.call("GET", "/runs"), 401, "GET /runs without a key")
        wrong = Client(self.client.base_url, self.client.prefix, self.client.timeout, {"x": "not-a-key"})
        expect_status(wrong.call("GET", "/runs", "x"), 401, "GET /runs with a wrong key")
        body = {"input": "smoke", "spec": echo_spec()}
        answer = expect_status(self.client.call("POST", "/runs", "viewer", body), 403, "POST /runs as viewer")
        expect(answer["detail"]["error"] == "forbidden", f"unexpected 403 body: {answer}")
        expect_status(self.client.call("GET", "/runs?limit=1", "viewer"), 200, "GET /runs as viewer")
        return "401 without/with a wrong key, 403 for a viewer write"

    def spec_validation(self) -> str:
        good = expect_status(
            self.client.call("POST", "/specs/validate", "operator", {"spec": echo_spec()}), 200, "validate"
        )
        expect(good.get("valid") is True, f"valid spec reported invalid: {good}")
        broken = {"version": "v1", "workflow": {"type": "sequential", "steps": [{"id": "x", "kind": "agent"}]}}
        bad = self.client.call("POST", "/specs/validate", "operator", {"spec": broken})
        expect(bad.status in (200, 400, 422), f"invalid spec: unexpected HTTP {bad.status}")
        expect(bad.status != 200 or bad.body.get("valid") is False, f"invalid spec reported valid: {bad.body}")
        return "valid spec accepted, broken spec rejected"

    def sync_run(self) -> str:
        body = {"input": "hello smoke", "spec": echo_spec(2)}
        run = expect_status(self.client.call("POST", "/runs", "operator", body), 200, "POST /runs")
        expect(run.get("status") == "completed", f"run not completed: {run}")
        expect("hello smoke" in (run.get("output_text") or ""), f"unexpected output: {run.get('output_text')}")
        self.run_id = run["run_id"]
        fetched = expect_status(self.client.call("GET", f"/runs/{self.run_id}", "viewer"), 200, "GET /runs/{id}")
        expect(fetched.get("status") == "completed", f"stored run is {fetched.get('status')}")
        return f"run {self.run_id} completed"

    def human_resume(self) -> str:
        body = {"input": "draft this", "spec": human_spec()}
        run = expect_status(self.client.call("POST", "/runs", "operator", body), 200, "POST /runs (human)")
        expect(run.get("status") == "blocked", f"human run not blocked: {run}")
        continuation = run["continuation_id"]
        task = expect_status(
            self.client.call("GET", f"/human-tasks/{continuation}", "reviewer"), 200, "GET /human-tasks/{id}"
        )
        request_id = task["request"].get("id") or task["request"]["request_id"]
        if self.expect_auth:
            denied = self.client.call(
                "POST",
                f"/human-tasks/{continuation}/resume",
                "viewer",
                {"request_id": request_id, "decision": "approved"},
            )
            expect_status(denied, 403, "resume as viewer")
        decision = {"request_id": request_id, "decision": "approved", "metadata": {"via": "deployment_smoke"}}
        resumed = expect_status(
            self.client.call("POST", f"/human-tasks/{continuation}/resume", "reviewer", decision), 200, "resume"
        )
        expect(resumed.get("status") == "completed", f"resumed run not completed: {resumed}")
        return f"continuation {continuation} approved, run {resumed['run_id']} completed"

    def audit_listing(self) -> str:
        query = f"/audit-events?run_id={self.run_id}&limit=50" if self.run_id else "/audit-events?limit=50"
        body = expect_status(self.client.call("GET", query, "operator"), 200, "GET /audit-events")
        events = body.get("events") or body.get("items") or []
        types = sorted({e.get("event_type") for e in events})
        expect(bool(events), f"no audit events for run {self.run_id}: {body}")
        return f"{len(events)} events ({', '.join(t for t in types if t)})"

    def credentials(self) -> str:
        body = expect_status(self.client.call("GET", "/security/credentials", "operator"), 200, "credentials")
        inventory = body.get("inventory") or {}
        expect("providers" in inventory, f"no provider section: {body}")
        return f"{len(inventory['providers'])} provider references"

    def policy_update(self) -> str:
        path = f"/policies/environment/{self.environment}"
        policy = {"enabled": True, "blocked_diagnostic_codes": ["SMOKE001"], "require_human_review": False}
        if self.expect_auth:
            expect_status(self.client.call("PUT", path, "viewer", policy), 403, "PUT policy as viewer")
        expect_status(self.client.call("PUT", path, "operator", policy), 200, "PUT policy as operator")
        stored = expect_status(self.client.call("GET", path, "operator"), 200, "GET policy")
        expect("SMOKE001" in json.dumps(stored), f"policy not stored: {stored}")
        return f"policy {self.environment} stored" + (", viewer refused" if self.expect_auth else "")


def run_smoke(client: Client, expect_auth: bool, out: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every check; returns one result per check (``ok``, ``name``, ``detail``, ``seconds``)."""
    results = []
    for name, check in Smoke(client, expect_auth).checks():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except (CheckFailed, KeyError, TypeError, OSError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}" if not isinstance(exc, CheckFailed) else str(exc), False
        seconds = round(time.perf_counter() - started, 3)
        results.append({"name": name, "ok": ok, "detail": detail, "seconds": seconds})
        out(f"{'✓' if ok else '✗'} {name}: {detail} ({seconds}s)")
    return results


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", required=True, help="the public front, e.g. https://kneo.example.com")
    parser.add_argument("--api-prefix", default="", choices=["", "/v1"], help="'' (root routes) or /v1")
    for role in ("admin", "operator", "reviewer", "viewer"):
        env = f"KNEO_SMOKE_{role.upper()}_KEY"
        parser.add_argument(f"--{role}-key", default=os.environ.get(env), help=f"API key of the {role} (or {env})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request")


def client_from_args(args: argparse.Namespace) -> Client:
    admin = args.admin_key
    keys = {
        "admin": admin,
        "operator": args.operator_key or admin,
        "reviewer": args.reviewer_key or admin,
        "viewer": args.viewer_key,
    }
    return Client(args.base_url, args.api_prefix, args.timeout, keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_client_arguments(parser)
    parser.add_argument("--expect-auth", action="store_true", help="require 401/403 answers (auth enabled)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of lines")
    args = parser.parse_args(argv)
    if args.expect_auth and not (args.viewer_key and (args.operator_key or args.admin_key)):
        parser.error("--expect-auth needs --viewer-key and an --operator-key or --admin-key")
    lines: list[str] = []
    results = run_smoke(client_from_args(args), args.expect_auth, lines.append if args.json else print)
    passed = all(r["ok"] for r in results)
    if args.json:
        print(json.dumps({"ok": passed, "base_url": args.base_url, "api_prefix": args.api_prefix, "checks": results}))
    else:
        print(f"{sum(r['ok'] for r in results)} passed, {sum(not r['ok'] for r in results)} failed")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
