#!/usr/bin/env python3
"""Smoke-test a deployed kneo service through its public HTTP API.

Uses the self-contained ``examples/smoke_human_workflow.yaml`` spec and checks health, readiness,
authentication (401 without or with a wrong key; 403 for a viewer's writes), spec validation, run
creation, the human resume, the audit listing, the credential inventory and an environment policy
update. Standard library only (PyYAML is used when installed, else the spec file must be JSON):

    python scripts/deployment_smoke.py --base-url http://127.0.0.1:8000 --api-key "$ADMIN" \\
        --operator-api-key "$OP" --reviewer-api-key "$REV" --viewer-api-key "$VIEW" --expect-auth

Against a remote staging deployment the scoped tokens and URL come from the environment:
``KNEO_STAGING_BASE_URL``, ``KNEO_STAGING_{OPERATOR,REVIEWER,VIEWER}_TOKEN`` (the viewer is
optional; when given, the smoke checks that its writes are refused). ``KNEO_SMOKE_*_KEY`` and the
``--admin-key``/``--operator-key``/… spellings are accepted too. A role without a key uses the
admin key. Exit status 0 when every check passes, 1 otherwise; ``--json`` prints a summary.
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
from pathlib import Path
from typing import Any

SMOKE_SPEC = Path(__file__).resolve().parent.parent / "examples" / "smoke_human_workflow.yaml"
ROLES = ("admin", "operator", "reviewer", "viewer")
# Environment variables per role, first match wins: the staging names, then the older smoke names.
ROLE_ENV = {
    "admin": ("KNEO_SMOKE_ADMIN_KEY",),
    "operator": ("KNEO_STAGING_OPERATOR_TOKEN", "KNEO_SMOKE_OPERATOR_KEY"),
    "reviewer": ("KNEO_STAGING_REVIEWER_TOKEN", "KNEO_SMOKE_REVIEWER_KEY"),
    "viewer": ("KNEO_STAGING_VIEWER_TOKEN", "KNEO_SMOKE_VIEWER_KEY"),
}


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


def load_spec(path: Path = SMOKE_SPEC) -> dict[str, Any]:
    """The smoke spec file as a mapping (YAML with PyYAML installed, JSON otherwise)."""
    text = path.read_text()
    try:
        import yaml
    except ImportError:
        return dict(json.loads(text))
    return dict(yaml.safe_load(text))


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

    def __init__(self, client: Client, expect_auth: bool, spec: dict[str, Any]) -> None:
        self.client = client
        self.expect_auth = expect_auth
        self.spec = spec
        self.environment = f"smoke-{uuid.uuid4().hex[:8]}"
        self.run_id: str | None = None
        self.continuation_id: str | None = None

    @property
    def has_viewer(self) -> bool:
        return bool(self.client.keys.get("viewer"))

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        checks = [("health", self.health), ("readiness", self.readiness)]
        if self.expect_auth:
            checks.append(("auth", self.auth))
        return [
            *checks,
            ("spec validation", self.spec_validation),
            ("run creation", self.run_creation),
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
        if not self.has_viewer:
            return "401 without/with a wrong key (no viewer key: 403 checks skipped)"
        body = {"input": "smoke", "spec": self.spec}
        answer = expect_status(self.client.call("POST", "/runs", "viewer", body), 403, "POST /runs as viewer")
        expect(answer["detail"]["error"] == "forbidden", f"unexpected 403 body: {answer}")
        expect_status(self.client.call("GET", "/runs?limit=1", "viewer"), 200, "GET /runs as viewer")
        return "401 without/with a wrong key, 403 for a viewer write"

    def spec_validation(self) -> str:
        good = expect_status(
            self.client.call("POST", "/specs/validate", "operator", {"spec": self.spec}), 200, "validate"
        )
        expect(good.get("valid") is True, f"smoke spec reported invalid: {good}")
        broken = {"version": "v1", "workflow": {"type": "sequential", "steps": [{"id": "x", "kind": "agent"}]}}
        bad = self.client.call("POST", "/specs/validate", "operator", {"spec": broken})
        expect(bad.status in (200, 400, 422), f"invalid spec: unexpected HTTP {bad.status}")
        expect(bad.status != 200 or bad.body.get("valid") is False, f"invalid spec reported valid: {bad.body}")
        return "smoke spec valid, broken spec rejected"

    def run_creation(self) -> str:
        body = {"input": "deployment smoke", "spec": self.spec, "metadata": {"source": "deployment_smoke"}}
        run = expect_status(self.client.call("POST", "/runs", "operator", body), 200, "POST /runs")
        expect(run.get("status") == "blocked", f"smoke run not blocked at its human step: {run}")
        self.run_id, self.continuation_id = run["run_id"], run["continuation_id"]
        fetched = expect_status(self.client.call("GET", f"/runs/{self.run_id}", "operator"), 200, "GET /runs/{id}")
        expect(fetched.get("status") == "blocked", f"stored run is {fetched.get('status')}")
        return f"run {self.run_id} blocked at its human step"

    def human_resume(self) -> str:
        expect(self.continuation_id is not None, "no blocked run to resume")
        path = f"/human-tasks/{self.continuation_id}"
        task = expect_status(self.client.call("GET", path, "reviewer"), 200, "GET /human-tasks/{id}")
        request_id = task["request"].get("id") or task["request"]["request_id"]
        if self.expect_auth and self.has_viewer:
            denied = self.client.call(
                "POST", f"{path}/resume", "viewer", {"request_id": request_id, "decision": "approved"}
            )
            expect_status(denied, 403, "resume as viewer")
        decision = {"request_id": request_id, "decision": "approved", "metadata": {"via": "deployment_smoke"}}
        resumed = expect_status(self.client.call("POST", f"{path}/resume", "reviewer", decision), 200, "resume")
        expect(resumed.get("status") == "completed", f"resumed run not completed: {resumed}")
        return f"continuation {self.continuation_id} approved, run {resumed['run_id']} completed"

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
        refused = self.expect_auth and self.has_viewer
        if refused:
            expect_status(self.client.call("PUT", path, "viewer", policy), 403, "PUT policy as viewer")
        expect_status(self.client.call("PUT", path, "operator", policy), 200, "PUT policy as operator")
        stored = expect_status(self.client.call("GET", path, "operator"), 200, "GET policy")
        expect("SMOKE001" in json.dumps(stored), f"policy not stored: {stored}")
        return f"policy {self.environment} stored" + (", viewer refused" if refused else "")


def run_smoke(
    client: Client, expect_auth: bool, out: Callable[[str], None] = print, spec: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run every check; returns one result per check (``ok``, ``name``, ``detail``, ``seconds``)."""
    results = []
    for name, check in Smoke(client, expect_auth, spec or load_spec()).checks():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except (CheckFailed, KeyError, TypeError, OSError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}" if not isinstance(exc, CheckFailed) else str(exc), False
        seconds = round(time.perf_counter() - started, 3)
        results.append({"name": name, "ok": ok, "detail": detail, "seconds": seconds})
        out(f"{'✓' if ok else '✗'} {name}: {detail} ({seconds}s)")
    return results


def _from_env(names: tuple[str, ...]) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def add_client_arguments(parser: argparse.ArgumentParser, base_url_required: bool = True) -> None:
    """``--base-url``, ``--api-prefix``, one key per role and ``--timeout``."""
    default_url = os.environ.get("KNEO_STAGING_BASE_URL")
    parser.add_argument(
        "--base-url",
        default=default_url,
        required=base_url_required and not default_url,
        help="the service or its public front, e.g. http://127.0.0.1:8000 (or KNEO_STAGING_BASE_URL)",
    )
    parser.add_argument("--api-prefix", default="", choices=["", "/v1"], help="'' (unversioned routes) or /v1")
    parser.add_argument(
        "--api-key", "--admin-key", dest="admin_key", default=_from_env(ROLE_ENV["admin"]), help="the admin key"
    )
    for role in ROLES[1:]:
        parser.add_argument(
            f"--{role}-api-key",
            f"--{role}-key",
            dest=f"{role}_key",
            default=_from_env(ROLE_ENV[role]),
            help=f"the {role}'s key (or {' / '.join(ROLE_ENV[role])})",
        )
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
    parser.add_argument("--spec", type=Path, default=SMOKE_SPEC, help="the smoke spec (a human step, no provider)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of lines")
    args = parser.parse_args(argv)
    if args.expect_auth and not (args.operator_key or args.admin_key):
        parser.error("--expect-auth needs an --operator-api-key or an --api-key")
    lines: list[str] = []
    out = lines.append if args.json else print
    results = run_smoke(client_from_args(args), args.expect_auth, out, load_spec(args.spec))
    passed = all(r["ok"] for r in results)
    if args.json:
        print(json.dumps({"ok": passed, "base_url": args.base_url, "api_prefix": args.api_prefix, "checks": results}))
    else:
        print(f"{sum(r['ok'] for r in results)} passed, {sum(not r['ok'] for r in results)} failed")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
