"""Policy report shape (§15) and environment policy enforcement (§11.1 / §12.4)."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.sandbox import CommandRule
from kneo.specs import EnvironmentPolicy, SpecError, enforce_environment_policy, policy_report

from .factories import ALLOWED, base_spec


def _research_like() -> dict[str, Any]:
    spec = base_spec()
    spec["agent"]["tools"] = ["search"]
    spec["components"]["agents"]["retriever"] = {"name": "retriever", "tools": {"include": ["search"]}}
    spec["workflow"]["steps"].pop(1)
    spec["components"]["humans"] = {}
    return spec


def test_report_shape() -> None:
    spec = base_spec()
    spec["agent"]["memory"] = {"policy": "sliding_window", "max_messages": 4}
    spec["agent"]["guardrails"] = {
        "output": [{"id": "o", "type": "keyword"}],
        "input": [{"id": "i", "type": "regex"}],
    }
    spec["tools"]["remote"] = {"description": "r", "mcp": {"server": "srv"}}
    spec["mcp_servers"] = {"srv": {"transport": "http", "url": "https://x"}}
    result = policy_report(spec, allowed_modules=ALLOWED)
    assert result["valid"] is True
    report = result["report"]
    assert set(report) == {
        "valid",
        "version",
        "summary",
        "memory",
        "tools",
        "guardrails",
        "human_review",
        "diagnostics",
    }
    assert report["summary"] == {
        "agent_count": 2,
        "workflow_count": 2,
        "tool_count": 2,
        "mcp_tool_count": 1,
        "human_reviewer_count": 1,
        "human_review_step_count": 1,
        "diagnostic_count": 0,
    }
    assert report["memory"]["agents"][0] == {
        "agent": "agent",
        "configured": True,
        "policy": "sliding_window",
        "config": {"policy": "sliding_window", "max_messages": 4},
    }
    assert report["tools"]["declared"] == ["remote", "search"]
    assert report["tools"]["mcp_imports"] == [{"name": "remote", "config": {"server": "srv", "name": None}}]
    root_policy = report["tools"]["agent_policies"][0]
    assert root_policy["agent"] == "agent" and root_policy["unrestricted"] is False
    assert root_policy["permissions"]["allowed_domains"] == ["example.com"]
    assert report["guardrails"]["agents"][0] == {
        "agent": "agent",
        "configured": True,
        "stages": {"input": 1, "output": 1},
    }
    assert report["human_review"] == {
        "reviewers": ["reviewer"],
        "workflow_steps": [{"workflow": "workflow", "step_id": "approve", "ref": "reviewer"}],
        "required": True,
        "requirements": [
            {
                "code": "I_HUMAN_REVIEW_CONFIGURED",
                "path": "components.humans",
                "reason": "Human review components are configured.",
            }
        ],
        "missing": False,
    }


def test_report_requirements_and_missing() -> None:
    report = policy_report(_research_like(), allowed_modules=ALLOWED)["report"]
    assert [r["path"] for r in report["human_review"]["requirements"]] == [
        "agent.tools.permissions",
        "components.agents.retriever.tools.permissions",
    ]
    assert report["human_review"]["missing"] is True
    assert [p["unrestricted"] for p in report["tools"]["agent_policies"]] == [True, True, False]


def test_report_schema_failure() -> None:
    result = policy_report({"version": "v1"})
    assert result["valid"] is False
    assert result["report"]["valid"] is False
    assert [d["code"] for d in result["report"]["diagnostics"]] == ["E_SCHEMA"]


def test_orchestration_humans_not_counted_as_review_steps() -> None:
    spec = base_spec()
    spec["workflow"] = {
        "type": "concurrent",
        "participants": [{"id": "h", "kind": "human", "ref": "reviewer"}],
    }
    assert policy_report(spec, allowed_modules=ALLOWED)["report"]["human_review"]["workflow_steps"] == []


PROD = {
    "require_tool_permissions": True,
    "deny_unrestricted_tools": True,
    "require_human_review": True,
    "require_guardrails": True,
    "blocked_diagnostic_codes": ["E_UNSAFE_TOOL_IMPORT", "E_UNSAFE_FUNCTION_IMPORT"],
}


def test_prod_policy_on_research_like_spec() -> None:
    diags = enforce_environment_policy(_research_like(), "prod", PROD, allowed_modules=ALLOWED)
    assert [(d.code, d.path) for d in diags] == [
        ("E_ENV_POLICY_HUMAN_REVIEW", "workflow"),
        ("E_ENV_POLICY_TOOL_PERMISSIONS", "agent"),
        ("E_ENV_POLICY_TOOL_PERMISSIONS", "components.agents.retriever"),
        ("E_ENV_POLICY_UNRESTRICTED_TOOLS", "agent"),
        ("E_ENV_POLICY_UNRESTRICTED_TOOLS", "components.agents.retriever"),
        ("E_ENV_POLICY_GUARDRAILS", "agent"),
    ]
    assert all(d.severity == "error" for d in diags)
    assert diags[0].message == "Environment 'prod' requires a human approval workflow step."


def test_blocked_codes_and_warnings_from_report() -> None:
    report = policy_report(_research_like())  # no allow-list: unsafe imports
    diags = enforce_environment_policy(
        report, "staging", {"blocked_diagnostic_codes": ["E_UNSAFE_TOOL_IMPORT"], "fail_on_warnings": True}
    )
    assert diags[0].code == "E_ENV_POLICY_DIAGNOSTIC"
    assert diags[0].message == "Environment 'staging' blocks diagnostic E_UNSAFE_TOOL_IMPORT."
    assert diags[0].path == "tools.search.implementation"
    assert {d.code for d in diags[1:]} == {"E_ENV_POLICY_WARNING"}
    # the inner report mapping is accepted as well
    assert enforce_environment_policy(report["report"], "staging", {"fail_on_warnings": True}) == diags[1:]


def test_disabled_or_absent_policy_and_clean_spec() -> None:
    assert enforce_environment_policy(_research_like(), "dev", {"enabled": False, **PROD}) == []
    assert enforce_environment_policy(_research_like(), "dev", None, allowed_modules=ALLOWED) == []
    spec = base_spec()
    spec["agent"]["guardrails"] = {"input": [{"id": "i", "type": "keyword"}]}
    assert enforce_environment_policy(spec, "prod", PROD, allowed_modules=ALLOWED) == []


def test_invalid_policy_is_generic_error() -> None:
    (diag,) = enforce_environment_policy(base_spec(), "prod", {"require_everything": True})
    assert diag.code == "E_ENV_POLICY" and diag.severity == "error"


def test_environment_policy_dataclass() -> None:
    assert EnvironmentPolicy.from_mapping({}).to_dict() == {
        "enabled": True,
        "fail_on_warnings": False,
        "blocked_diagnostic_codes": [],
        "require_human_review": False,
        "require_tool_permissions": False,
        "deny_unrestricted_tools": False,
        "require_guardrails": False,
        "deny_unlisted_mcp_commands": False,
    }
    for bad in ({"typo": True}, {"enabled": "yes"}, {"blocked_diagnostic_codes": "E_X"}, ["x"]):
        with pytest.raises(SpecError):
            EnvironmentPolicy.from_mapping(bad)  # type: ignore[arg-type]


def test_unlisted_mcp_commands_are_refused_when_the_policy_says_so() -> None:
    spec = base_spec()
    spec["mcp_servers"] = {
        "listed": {"transport": "stdio", "command": "python", "args": ["examples/agents/mcp_server.py", "-v"]},
        "shell": {"transport": "stdio", "command": "/bin/sh", "args": ["-c", "id"]},
        "remote": {"transport": "http", "url": "https://mcp.example.com/mcp"},
    }
    rules = (CommandRule("python", ("examples/agents/mcp_server.py",)),)
    assert enforce_environment_policy(spec, "prod", {}, mcp_commands=()) == []
    (diag,) = enforce_environment_policy(spec, "prod", {"deny_unlisted_mcp_commands": True}, mcp_commands=rules)
    assert (diag.code, diag.severity, diag.path) == ("E_ENV_POLICY_MCP_COMMAND", "error", "mcp_servers.shell.command")
    assert "KNEO_SERV_MCP_COMMANDS" in (diag.suggestion or "")
