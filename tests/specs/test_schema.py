"""Structural validation: exactly one E_SCHEMA diagnostic listing every problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kneo.specs import SpecParseError, SpecVersionError, validate_document

from .factories import ALLOWED, base_spec


def _schema_message(spec: object) -> str:
    report = validate_document(spec, allowed_modules=ALLOWED)  # type: ignore[arg-type]
    assert not report.valid
    (diag,) = report.diagnostics
    assert diag.code == "E_SCHEMA" and diag.severity == "error" and diag.path is None
    assert diag.suggestion == "Check required fields, enum values, and object shapes."
    return diag.message


def test_missing_required_and_extra_keys_listed_together() -> None:
    spec = base_spec()
    del spec["agent"]["name"]
    spec["agent"]["tols"] = ["x"]
    spec["policy_defaults"] = {}
    message = _schema_message(spec)
    assert message.startswith("3 validation errors for KneoSpec")
    assert "agent.name\n  Field required" in message
    assert "agent.tols\n  Extra inputs are not permitted" in message
    assert "policy_defaults\n  Extra inputs are not permitted" in message


def test_single_error_header() -> None:
    assert _schema_message({"version": "v1"}).splitlines()[:3] == [
        "1 validation error for KneoSpec",
        "agent",
        "  Field required",
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda s: s["agent"].update(strategy="wild"),
            "agent.strategy.type\n  Input should be 'simple', 'react' or",
        ),
        (lambda s: s["workflow"].update(type="loop"), "Input tag 'loop' found using 'type' does not match"),
        (lambda s: s["workflow"].pop("type"), "Unable to extract tag using discriminator 'type'"),
        (lambda s: s["workflow"]["steps"][0].update(kind="robot"), "workflow.steps.0.kind"),
        (lambda s: s["workflow"]["steps"][0].update(max_retries="2.5"), "Input should be a valid integer"),
        (
            lambda s: s["components"]["workflows"]["sub"].update(steps=["writer"]),
            "components.workflows.sub.steps.0\n  Input should be a valid dictionary",
        ),
        (
            lambda s: s.update(mcp_servers={"m": {"transport": "http", "url": "u", "max_retries": 1}}),
            "mcp_servers.m.max_retries\n  Extra inputs are not permitted",
        ),
        (lambda s: s["agent"]["model"].update(token_budget=0), "Input should be greater than 0"),
        (lambda s: s["agent"].update(defaults=None), "agent.defaults\n  Input should be a valid dictionary"),
        (lambda s: s.update(components=None), "components\n  Input should be a valid dictionary"),
        (
            lambda s: s.update(mcp_servers={"m": {"transport": "http", "url": "u", "ca_bundle": "../ca.pem"}}),
            "mcp_servers.m.ca_bundle\n  Value error",
        ),
        (lambda s: s["agent"].update(name=3), "agent.name\n  Input should be a valid string"),
        (
            lambda s: s["tools"].update({"bad": "not-a-tool"}),
            "tools.bad\n  Input should be a valid dictionary",
        ),
    ],
)
def test_schema_problem_locations(mutate: Callable[[dict[str, Any]], Any], expected: str) -> None:
    spec = base_spec()
    mutate(spec)
    assert expected in _schema_message(spec)


def test_shorthands_are_normalised() -> None:
    spec = base_spec()
    spec["agent"]["model"] = "gpt-4o"
    spec["agent"]["strategy"] = "react"
    spec["agent"]["tools"] = ["search"]
    spec["workflow"]["steps"].append("writer")
    report = validate_document(spec, allowed_modules=ALLOWED)
    assert report.valid
    assert [d.code for d in report.diagnostics] == ["W_TOOL_POLICY_UNRESTRICTED"]
    assert report.diagnostics[0].path == "agent.tools.permissions"


def test_group_chat_alias_and_semantics_skipped_on_schema_error() -> None:
    spec = base_spec()
    spec["workflow"] = {"type": "group_chat", "participants": [{"id": "a", "kind": "agent", "ref": "ghost"}]}
    codes = [d.code for d in validate_document(spec, allowed_modules=ALLOWED).diagnostics]
    assert codes == ["E_STEP_AGENT_REF"]
    spec["unknown"] = 1
    assert [d.code for d in validate_document(spec).diagnostics] == ["E_SCHEMA"]


def test_version_errors() -> None:
    with pytest.raises(SpecVersionError) as info:
        validate_document({"version": "v2", "agent": {"name": "a"}})
    assert info.value.code == "invalid_request"
    assert info.value.message == "Unsupported spec version: v2"
    with pytest.raises(SpecParseError):
        validate_document(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_report_to_dict() -> None:
    report = validate_document({"version": "v1", "agent": {"name": "echo"}})
    assert report.to_dict() == {"valid": True, "diagnostics": []}
