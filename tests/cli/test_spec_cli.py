"""``kneo spec …``: JSON shapes, exit codes, option order, project context and bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from kneo import specs
from kneo.cli.main import cli
from kneo.workflows.kinds.layout import workflow_graph
from tests.support.specs import echo_chain, function_step, human_flow, sequential

ROOT = Path(__file__).resolve().parents[2]
KNEO = str(Path(sys.executable).parent / "kneo")
KEY = "unit-test-signing-key"
UNSAFE = sequential([function_step("f", "f")], functions={"f": "tests.support.functions.echo"})
LEGACY = {
    "root_agent": {"name": "root"},
    "root_workflow": ["writer"],
    "component_agents": {"writer": {"name": "writer"}},
}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and an environment without any kneo project settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("KNEO_ENV", "KNEO_PROJECT_CONFIG", "KNEO_SERV_ALLOWED_MODULES", "KNEO_SERV_SPEC_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(echo_chain(2)))
    (tmp_path / "unsafe.yaml").write_text(yaml.safe_dump(UNSAFE))
    (tmp_path / "legacy.yaml").write_text(yaml.safe_dump(LEGACY))
    (tmp_path / "broken.yaml").write_text("agent: [unclosed\n")
    return tmp_path


def kneo(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["spec", *args], env=env, catch_exceptions=False)


def out(result: Result) -> Any:
    return json.loads(result.stdout)


def test_validate_exit_codes_and_json(work: Path) -> None:
    ok = kneo("validate", "good.yaml", "--json")
    assert ok.exit_code == 0 and out(ok) == {"valid": True, "diagnostics": []}
    bad = kneo("validate", "unsafe.yaml", "--json")
    assert bad.exit_code == 1
    assert out(bad)["valid"] is False
    assert [d["code"] for d in out(bad)["diagnostics"]] == ["E_UNSAFE_FUNCTION_IMPORT", "W_HUMAN_APPROVAL_MISSING"]
    assert bad.stderr.startswith("✗ unsafe.yaml is invalid (1 error, 1 warning)")
    human = kneo("validate", "unsafe.yaml")
    assert human.exit_code == 1
    assert human.stdout.splitlines()[0].split() == ["SEVERITY", "CODE", "PATH", "MESSAGE"]
    assert "--allow-module" in human.stderr
    assert kneo("validate", "good.yaml").stdout.startswith("✓ good.yaml is valid")


def test_parse_errors_are_an_e_schema_diagnostic(work: Path) -> None:
    result = kneo("validate", "--json", "broken.yaml")
    assert result.exit_code == 1
    [diag] = out(result)["diagnostics"]
    assert (diag["code"], diag["path"], diag["suggestion"]) == ("E_SCHEMA", None, "Check the YAML/JSON syntax.")


def test_allow_module_option_and_environment_default(work: Path) -> None:
    assert kneo("validate", "--allow-module", "tests.support", "unsafe.yaml").exit_code == 0
    assert kneo("validate", "unsafe.yaml", "--allow-module", "tests").exit_code == 0
    assert kneo("validate", "unsafe.yaml", env={"KNEO_SERV_ALLOWED_MODULES": "tests.support"}).exit_code == 0
    # an explicit --allow-module replaces the environment's list; 'tests2' is not a prefix of 'tests'
    assert (
        kneo(
            "validate", "unsafe.yaml", "--allow-module", "tests2", env={"KNEO_SERV_ALLOWED_MODULES": "tests"}
        ).exit_code
        == 1
    )


def test_lint_fails_on_any_warning(work: Path) -> None:
    result = kneo("lint", "--json", "unsafe.yaml", "--allow-module", "tests.support")
    assert result.exit_code == 0 and out(result) == {
        "clean": True,
        "warning_count": 0,
        "error_count": 0,
        "diagnostics": [],
    }
    spec = echo_chain(1)
    spec["agent"]["tools"] = {"include": ["search"]}
    spec["tools"] = {"search": {"description": "d", "implementation": "tests.support.agent_tools.search"}}
    Path("warn.yaml").write_text(yaml.safe_dump(spec))
    warned = kneo("lint", "warn.yaml", "--json", "--allow-module", "tests.support")
    assert warned.exit_code == 1
    payload = out(warned)
    assert payload["clean"] is False and payload["error_count"] == 0 and payload["warning_count"] >= 1
    assert kneo("validate", "warn.yaml", "--allow-module", "tests.support").exit_code == 0  # warnings are valid


def test_compile_explain_and_graph(work: Path) -> None:
    result = kneo("compile", "good.yaml", "--json")
    assert result.exit_code == 0
    assert out(result) == {
        "ok": True,
        "summary": {"has_root_agent": True, "has_root_workflow": True, "component_agents": ["a0", "a1"]},
        "diagnostics": [],
    }
    failed = kneo("compile", "unsafe.yaml", "--json")
    assert failed.exit_code == 1 and out(failed)["ok"] is False
    assert "ERROR E_UNSAFE_FUNCTION_IMPORT:" in failed.stderr
    assert out(kneo("explain", "--json", "good.yaml")) == {
        "summary": {"root_agent": "root", "root_workflow": "test-flow", "component_agents": ["a0", "a1"]}
    }
    graph = kneo("graph", "good.yaml", "--json")
    assert graph.exit_code == 0
    assert out(graph) == workflow_graph(specs.compile_document(echo_chain(2)))
    assert [e["from"] for e in out(graph)["edges"]] == ["a0"]
    assert kneo("graph", "unsafe.yaml").exit_code == 1
    assert "Workflow: test-flow (sequential)" in kneo("graph", "good.yaml").stdout


def test_policy_report(work: Path) -> None:
    Path("human.yaml").write_text(yaml.safe_dump(human_flow()))
    report = out(kneo("policy-report", "human.yaml", "--json"))
    assert report["valid"] is True
    assert report["human_review"]["workflow_steps"] == [
        {"workflow": "workflow", "step_id": "approve", "ref": "approver"}
    ]
    Path("schema.yaml").write_text(yaml.safe_dump({"version": "v1"}))
    bad = kneo("policy-report", "schema.yaml", "--json")
    assert bad.exit_code == 1 and out(bad)["valid"] is False


def test_migrate(work: Path) -> None:
    check = kneo("migrate", "legacy.yaml", "--check", "--json")
    assert check.exit_code == 1
    payload = out(check)
    assert payload["changed"] is True and payload["source_version"] is None and "spec" not in payload
    assert "renamed root_agent to agent" in payload["applied"]
    converted = kneo("migrate", "--json", "-o", "v1.yaml", "legacy.yaml")
    assert converted.exit_code == 0
    assert out(converted)["output"].endswith("v1.yaml")
    migrated = yaml.safe_load(Path("v1.yaml").read_text())
    assert migrated["version"] == "v1" and migrated["workflow"] == {"type": "sequential", "steps": ["writer"]}
    again = kneo("migrate", "--check", "v1.yaml")
    assert again.exit_code == 0 and "already v1" in again.stdout
    assert yaml.safe_load(kneo("migrate", "legacy.yaml").stdout)["components"]["agents"] == {
        "writer": {"name": "writer"}
    }


def test_missing_spec_is_a_usage_error_and_missing_file_an_error(work: Path) -> None:
    result = kneo("validate")
    assert result.exit_code == 2 and "No spec path given" in result.stderr
    missing = kneo("validate", "nope.yaml")
    assert missing.exit_code == 1 and missing.stderr.startswith("✗ Spec file not found")
    assert kneo("validate", "good.yaml", "--bogus").exit_code == 2


def write_project(root: Path, policy: dict[str, Any] | None = None) -> None:
    config: dict[str, Any] = {
        "project": {"name": "demo", "default_environment": "staging"},
        "specs": {"default_spec": "good.yaml", "overlays": {"prod": ["prod.yaml", "missing.yaml"]}},
        "model_defaults": {"prod": {"provider": "openai", "name": "gpt-4o"}},
    }
    if policy is not None:
        config["environments"] = {"prod": {"policy_enforcement": policy}}
    (root / ".kneo").mkdir(exist_ok=True)
    (root / ".kneo" / "config.yaml").write_text(yaml.safe_dump(config))
    (root / "prod.yaml").write_text(yaml.safe_dump({"agent": {"name": "prod-root"}, "policy_defaults": {"x": 1}}))


def test_project_context_default_spec_overlays_and_environment(work: Path) -> None:
    write_project(work)
    resolved = out(kneo("resolve", "--json", "--env", "prod"))
    assert resolved["environment"] == "prod" and resolved["project"] == "demo"
    assert resolved["overlays"] == ["prod.yaml"]
    assert [d["code"] for d in resolved["diagnostics"]] == ["W_OVERLAY_MISSING"]
    spec = resolved["spec"]
    assert spec["agent"]["name"] == "prod-root" and spec["agent"]["model"]["name"] == "gpt-4o"
    assert "policy_defaults" not in spec and spec["policies"]["project_defaults"]["x"] == 1
    assert out(kneo("resolve", "--json"))["environment"] == "staging"
    assert out(kneo("resolve", "--json", env={"KNEO_ENV": "qa"}))["environment"] == "qa"
    # the missing overlay is a warning: valid, but not lint-clean
    assert kneo("validate", "--env", "prod").exit_code == 0
    lint = kneo("lint", "--env", "prod", "--json")
    assert lint.exit_code == 1 and [d["code"] for d in out(lint)["diagnostics"]] == ["W_OVERLAY_MISSING"]
    written = kneo("resolve", "--env", "prod", "-o", "out/prod.yaml")
    assert written.exit_code == 0 and yaml.safe_load(Path("out/prod.yaml").read_text()) == spec


def test_environment_policy_blocks_with_error_lines(work: Path) -> None:
    write_project(work, {"require_human_review": True})
    for command in ("validate", "lint", "compile", "policy-report", "resolve", "explain", "graph"):
        result = kneo(command, "--env", "prod")
        assert result.exit_code == 1, command
        assert result.stdout == "", command
        assert result.stderr.splitlines()[:2] == [
            "✗ Environment 'prod' policy blocks this spec:",
            "ERROR E_ENV_POLICY_HUMAN_REVIEW: Environment 'prod' requires a human approval workflow step.",
        ], command
        as_json = kneo(command, "--env", "prod", "--json")
        assert as_json.exit_code == 1 and as_json.stdout == "", command
        assert json.loads(as_json.stderr)["error"]["message"].splitlines()[0] == (
            "Environment 'prod' policy blocks this spec:"
        ), command
    assert kneo("validate", "--env", "dev").exit_code == 0


def test_bundle_sign_and_verify(work: Path) -> None:
    env = {"KNEO_SERV_SPEC_SIGNING_KEY": KEY}
    missing = kneo("bundle", "sign", "good.yaml", "-o", "b.json", "--approved-by", "ann")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("✗ Signing key environment variable is not set: KNEO_SERV_SPEC_SIGNING_KEY")
    signed = kneo(
        "bundle", "sign", "good.yaml", "--json", "-o", "b.json", "--approved-by", "ann", "--env", "prod", env=env
    )
    assert signed.exit_code == 0
    payload = out(signed)
    assert payload["signature"] == {"algorithm": "HMAC-SHA256", "key_id": "KNEO_SERV_SPEC_SIGNING_KEY"}
    assert payload["environment"] == "prod"
    bundle = json.loads(Path("b.json").read_text())
    assert bundle["metadata"]["approved_by"] == "ann" and bundle["spec"] == echo_chain(2)
    assert bundle["digest"] == payload["digest"]
    verified = kneo("bundle", "verify", "b.json", "--json", env=env)
    assert verified.exit_code == 0
    assert out(verified) == {"valid": True, "digest_valid": True, "signature_valid": True, "errors": []}
    wrong_env = kneo("bundle", "verify", "--env", "staging", "b.json", "--json", env=env)
    assert wrong_env.exit_code == 1 and out(wrong_env)["environment_valid"] is False
    bundle["spec"]["agent"]["name"] = "tampered"
    Path("t.json").write_text(json.dumps(bundle))
    tampered = kneo("bundle", "verify", "t.json", "--json", env=env)
    assert tampered.exit_code == 1
    assert out(tampered)["errors"] == ["Spec digest does not match bundle contents.", "Bundle signature is invalid."]
    assert kneo("bundle", "verify", "b.json", env={"OTHER": "x", "KNEO_SERV_SPEC_SIGNING_KEY": "other"}).exit_code == 1
    custom = kneo("bundle", "verify", "b.json", "--key-env", "OTHER", env={"OTHER": KEY})
    assert custom.exit_code == 0 and custom.stdout.startswith("✓ b.json is valid (environment prod")
    refused = kneo("bundle", "sign", "unsafe.yaml", "-o", "u.json", "--approved-by", "ann", env=env)
    assert refused.exit_code == 1 and "refusing to sign" in refused.stderr and not Path("u.json").exists()


def test_bundle_sign_resolves_the_project_environment(work: Path) -> None:
    write_project(work)
    env = {"KNEO_SERV_SPEC_SIGNING_KEY": KEY}
    assert kneo("bundle", "sign", "-o", "p.json", "--approved-by", "ann", "--env", "prod", env=env).exit_code == 0
    bundle = json.loads(Path("p.json").read_text())
    assert bundle["metadata"]["environment"] == "prod"
    assert bundle["spec"]["agent"]["name"] == "prod-root"  # the prod overlay is part of what was approved
    assert specs.verify_bundle(bundle, KEY)["valid"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNEO_SERV_", "KNEO_ENV", "KNEO_PROJECT"))}
    return subprocess.run([KNEO, "spec", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # starts the installed executables in subprocesses
def test_exit_codes_through_the_real_executable(work: Path) -> None:
    bad = run_cli("validate", "unsafe.yaml", "--json", cwd=work)
    assert bad.returncode == 1 and json.loads(bad.stdout)["valid"] is False and bad.stderr.startswith("✗ ")
    assert run_cli("--json", "validate", "good.yaml", cwd=work).returncode == 2  # --json belongs to the command
    for args in (("validate", "--json", "good.yaml"), ("validate", "good.yaml", "--json")):
        done = run_cli(*args, cwd=work)
        assert done.returncode == 0 and json.loads(done.stdout) == {"valid": True, "diagnostics": []}
    assert run_cli("lint", "unsafe.yaml", cwd=work).returncode == 1
    assert run_cli("compile", "unsafe.yaml", cwd=work).returncode == 1
    assert run_cli("migrate", "--check", "legacy.yaml", cwd=work).returncode == 1
    assert run_cli("validate", cwd=work).returncode == 2
    examples = run_cli("validate", str(ROOT / "examples" / "graph_triage.yaml"), "--allow-module", "examples", cwd=ROOT)
    assert examples.returncode == 0, examples.stderr


def test_schema_problems_are_one_row_each_with_their_path(work: Path) -> None:
    bad = {"version": "v1", "agent": {"name": 3}, "workflow": {"type": "sequential", "steps": [{"id": "a"}]}}
    (work / "schema.yaml").write_text(yaml.safe_dump(bad))
    result = kneo("validate", "schema.yaml")
    assert result.exit_code == 1
    rows = [line.split()[:3] for line in result.stdout.splitlines()[1:]]
    assert rows == [
        ["error", "E_SCHEMA", "agent.name"],
        ["error", "E_SCHEMA", "workflow.steps.0.kind"],
        ["error", "E_SCHEMA", "workflow.steps.0.ref"],
    ]
    assert result.stderr.startswith("✗ schema.yaml is invalid (3 errors, 0 warnings)")
    assert len(out(kneo("validate", "schema.yaml", "--json"))["diagnostics"]) == 1  # JSON keeps the API's shape
