"""KNEO_SERV_REQUIRE_SIGNED_BUNDLES: listed environments run only verified bundles (production topology)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kneo import specs
from kneo.cli.main import cli
from kneo.config import ConfigError, load_settings
from tests.support import specs as factories
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e

KEY = "integration-signing-key"
REDIS_DB = 11


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    """Signed bundles required in prod and staging."""
    return TopologyOptions(env={"KNEO_SERV_REQUIRE_SIGNED_BUNDLES": "prod, staging", "KNEO_SERV_SPEC_SIGNING_KEY": KEY})


def bundle(spec: dict[str, Any] | None = None, environment: str | None = "prod", key: str = KEY) -> dict[str, Any]:
    return specs.sign_bundle(spec or factories.echo_chain(2), key, approved_by="ann", environment=environment)


def run_count(stack: Api) -> int:
    response = stack.call("GET", "/v1/runs?limit=1")
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def audit_count(stack: Api) -> int:
    response = stack.call("GET", "/v1/audit-events?limit=1000", role="admin")
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


def refused(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: dict[str, Any] = response.json()["detail"]
    assert detail["error"] == code, detail
    return detail


def test_settings_need_the_key_when_bundles_are_required() -> None:
    with pytest.raises(ConfigError, match="KNEO_SERV_SPEC_SIGNING_KEY"):
        load_settings({"KNEO_SERV_REQUIRE_SIGNED_BUNDLES": "prod"})
    settings = load_settings({"KNEO_SERV_REQUIRE_SIGNED_BUNDLES": "prod, *", "KNEO_SERV_SPEC_SIGNING_KEY": "k"})
    assert settings.require_signed_bundles == ("prod", "*")
    assert load_settings({}).require_signed_bundles == ()


def test_a_plain_spec_is_refused_in_a_listed_environment_and_nothing_is_written(stack: Api) -> None:
    before, audited = run_count(stack), audit_count(stack)
    spec = factories.echo_chain(2)
    for path in ("/v1/runs", "/v1/specs/run"):
        detail = refused(
            stack.call("POST", path, json={"input": "x", "spec": spec, "environment": "prod"}), "bundle_required"
        )
        assert detail["environment"] == "prod" and detail["errors"]
    refused(stack.call("POST", "/v1/specs/compile", json={"spec": spec, "environment": "staging"}), "bundle_required")
    refused(
        stack.call(
            "POST", "/v1/runs", json={"input": "x", "spec_path": "examples/graph_triage.yaml", "environment": "prod"}
        ),
        "bundle_required",
    )
    assert (run_count(stack), audit_count(stack)) == (before, audited)


def test_unlisted_environments_are_unaffected(stack: Api) -> None:
    run = stack.create_run(factories.echo_chain(2), "free", environment="dev")
    assert run["status"] == "completed", run
    run = stack.create_run(factories.echo_chain(1), "no environment")
    assert run["status"] == "completed", run


def test_a_verified_bundle_runs_its_spec(stack: Api) -> None:
    spec = factories.echo_chain(2)
    run = stack.create_run(bundle(spec), "signed", environment="prod")
    assert run["status"] == "completed", run
    stored = stack.run(run["run_id"])
    assert stored["metadata"]["spec"] == spec  # what ran (and is stored) is the bundle's spec
    sync = stack.call("POST", "/v1/specs/run", json={"input": "s", "spec": bundle(spec), "environment": "prod"})
    assert sync.status_code == 200 and sync.json()["status"] == "completed", sync.text
    compiled = stack.call("POST", "/v1/specs/compile", json={"spec": bundle(spec, "staging"), "environment": "staging"})
    assert compiled.status_code == 200, compiled.text
    assert compiled.json()["summary"]["component_agents"] == ["a0", "a1"]
    unbound = stack.call("POST", "/v1/specs/compile", json={"spec": bundle(spec, None), "environment": "prod"})
    assert unbound.status_code == 200, unbound.text  # a bundle without an environment runs anywhere


def test_invalid_bundles_are_refused_with_the_verification_errors(stack: Api) -> None:
    before, audited = run_count(stack), audit_count(stack)
    tampered = bundle()
    tampered["spec"]["agent"]["name"] = "evil"
    detail = refused(
        stack.call("POST", "/v1/runs", json={"input": "x", "spec": tampered, "environment": "prod"}), "bundle_invalid"
    )
    assert detail["errors"] == ["Spec digest does not match bundle contents.", "Bundle signature is invalid."]
    relabelled = bundle()
    relabelled["metadata"]["approved_by"] = "mallory"
    detail = refused(
        stack.call("POST", "/v1/specs/compile", json={"spec": relabelled, "environment": "prod"}), "bundle_invalid"
    )
    assert detail["errors"] == ["Bundle signature is invalid."]
    foreign = bundle(key="someone-else")
    refused(
        stack.call("POST", "/v1/specs/run", json={"input": "x", "spec": foreign, "environment": "prod"}),
        "bundle_invalid",
    )
    detail = refused(
        stack.call(
            "POST", "/v1/runs", json={"input": "x", "spec": bundle(environment="staging"), "environment": "prod"}
        ),
        "bundle_invalid",
    )
    assert detail["errors"] == ["Bundle is approved for environment 'staging', not 'prod'."]
    detail = refused(
        stack.call(
            "POST",
            "/v1/runs",
            json={"input": "x", "spec": bundle(), "environment": "prod", "overrides": {"agent": {"name": "x"}}},
        ),
        "bundle_invalid",
    )
    assert detail["errors"] == ["overrides would change the signed spec."]
    assert (run_count(stack), audit_count(stack)) == (before, audited)


def test_a_bundle_signed_with_the_cli_runs(stack: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("KNEO_ENV", "KNEO_PROJECT_CONFIG", "KNEO_SERV_ALLOWED_MODULES"):
        monkeypatch.delenv(name, raising=False)
    spec = factories.sequential(
        [factories.function_step("up", "upper")], functions={"upper": "tests.support.functions.upper"}
    )
    Path("flow.yaml").write_text(yaml.safe_dump(spec))
    args = ["spec", "bundle", "sign", "flow.yaml", "--approved-by", "ann", "--env", "prod", "-o", "flow.bundle.json"]
    result = CliRunner().invoke(
        cli, [*args, "--allow-module", "tests.support"], env={"KNEO_SERV_SPEC_SIGNING_KEY": KEY}
    )
    assert result.exit_code == 0, result.output
    signed = json.loads(Path("flow.bundle.json").read_text())
    run = stack.create_run(signed, "shout", environment="prod")
    assert run["status"] == "completed" and run["output_text"] == "SHOUT", run
    broken = copy.deepcopy(signed)
    broken["spec"]["components"]["functions"]["upper"]["implementation"] = "tests.support.functions.echo"
    refused(
        stack.call("POST", "/v1/runs", json={"input": "x", "spec": broken, "environment": "prod"}), "bundle_invalid"
    )
