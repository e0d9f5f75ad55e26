"""Property tests: arbitrary or mutated specs never crash the compiler with a non-SpecError."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kneo.specs import (
    SpecError,
    ValidationReport,
    compile_document,
    compile_summary,
    enforce_environment_policy,
    explain_document,
    policy_report,
    validate_document,
)

from .factories import ALLOWED, base_spec, with_graph, with_orchestration

KEYS = [
    "version",
    "agent",
    "workflow",
    "components",
    "tools",
    "skills",
    "policies",
    "mcp_servers",
    "metadata",
    "name",
    "type",
    "steps",
    "nodes",
    "edges",
    "start",
    "participants",
    "id",
    "kind",
    "ref",
    "include",
    "permissions",
    "condition",
    "conditions",
    "value",
    "key",
    "as_agent",
    "agent",
    "mcp",
    "server",
    "implementation",
    "memory",
    "policy",
    "guardrails",
    "input",
    "selector",
    "sequence",
    "rounds",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "v0",
            "v1",
            "sequential",
            "graph",
            "handoff",
            "group_chat",
            "agent",
            "human",
            "workflow",
            "fallback",
            "react",
            "native",
            "stdio",
            "writer",
            "reviewer",
            "search",
            "sub",
            "a",
            "b",
            "examples.fns.x",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
BASES = [
    base_spec(),
    with_graph(),
    with_orchestration("handoff"),
    with_orchestration("group-chat"),
    with_orchestration("concurrent"),
]
POLICY = {
    "require_tool_permissions": True,
    "deny_unrestricted_tools": True,
    "require_human_review": True,
    "require_guardrails": True,
    "fail_on_warnings": True,
    "blocked_diagnostic_codes": ["E_TOOL_REF"],
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _exercise(spec: Any) -> None:
    try:
        report = validate_document(spec, allowed_modules=ALLOWED)
    except SpecError:
        return
    assert isinstance(report, ValidationReport)
    json.dumps(report.to_dict())
    for call in (
        lambda: compile_document(spec, allowed_modules=ALLOWED),
        lambda: compile_document(spec, target="agent"),
        lambda: policy_report(spec, allowed_modules=ALLOWED),
        lambda: compile_summary(spec),
        lambda: explain_document(spec),
        lambda: enforce_environment_policy(spec, "prod", POLICY, allowed_modules=ALLOWED),
    ):
        try:
            result = call()
        except SpecError:
            continue
        json.dumps(result if not isinstance(result, list) else [d.to_dict() for d in result])
    if report.valid:
        plan = compile_document(spec, allowed_modules=ALLOWED)
        assert plan["root_agent"] == "__root__"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_random_json_values(value: Any) -> None:
    _exercise(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6))
def test_random_top_level_mappings(value: dict[str, Any]) -> None:
    _exercise(value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_specs(data: st.DataObject) -> None:
    spec = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(spec)))
        if not path:
            continue
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        if action == "replace":
            parent[path[-1]] = data.draw(JSON)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KEYS))] = data.draw(JSON)
    _exercise(spec)


def test_self_referencing_mapping_is_a_spec_error() -> None:
    spec: dict[str, Any] = {"version": "v1", "agent": {"name": "a"}}
    spec["agent"]["loop"] = spec
    try:
        validate_document(spec)
    except SpecError as exc:
        assert exc.code == "spec_parse_error"
    else:  # pragma: no cover - must not happen
        raise AssertionError("expected SpecError")
