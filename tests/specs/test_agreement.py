"""Validation answers agreed with kneo-serv 1.2.0 (pinned here; tests/conformance compares live)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kneo.specs import SpecInvalid, SpecVersionError, compile_document, validate_document

from .factories import ALLOWED, base_spec, with_graph, with_orchestration

Spec = dict[str, Any]


def _findings(spec: Spec) -> list[tuple[str, str | None]]:
    return sorted((d.code, d.path) for d in validate_document(spec, allowed_modules=ALLOWED).diagnostics)


def _step(spec: Spec, index: int = 0) -> Spec:
    return spec["workflow"]["steps"][index]


def _guardrails(spec: Spec, **stages: Any) -> None:
    spec["agent"]["guardrails"] = stages


COERCED: list[tuple[str, Callable[[Spec], Any]]] = [
    ('max_retries "3600"', lambda s: _step(s).update(max_retries="3600")),
    ('timeout_seconds "5.0"', lambda s: _step(s).update(timeout_seconds="5.0")),
    ("timeout_seconds true", lambda s: _step(s).update(timeout_seconds=True)),
    ("max_retries -1", lambda s: _step(s).update(max_retries=-1)),
    ('enabled "1"', lambda s: _step(s, 2).update(enabled="1")),
    ('enabled "y"', lambda s: _step(s, 2).update(enabled="y")),
    ('enabled "no"', lambda s: _step(s, 1).update(enabled="no")),
    ("case_sensitive 0", lambda s: with_graph(s)["workflow"]["edges"][0]["condition"].update(case_sensitive=0)),
    ('temperature "0.5"', lambda s: s["agent"]["model"].update(temperature="0.5")),
    ('rounds "2"', lambda s: with_orchestration("group-chat", s, rounds="2")),
    ("append_mode anything", lambda s: s["agent"].update(defaults={"append_mode": "sometimes"})),
    ("unknown guardrail stage", lambda s: _guardrails(s, post_tool=[{"x": 1}])),
    ("guardrail config []", lambda s: _guardrails(s, input=[{"id": "g", "type": "keyword", "config": []}])),
    (
        "guardrail patterns string",
        lambda s: _guardrails(s, input=[{"id": "g", "type": "regex", "config": {"patterns": "a"}}]),
    ),
    ("function guardrail without ref", lambda s: _guardrails(s, tool=[{"id": "g", "type": "function"}])),
    ("guardrail extra key", lambda s: _guardrails(s, input=[{"id": "g", "type": "keyword", "extra": 1}])),
    ("memory retrieval without retriever", lambda s: s["agent"].update(memory={"policy": "retrieval"})),
    ("unknown memory policy", lambda s: s["agent"].update(memory={"policy": "forever"})),
    ("guardrail step with unknown ref", lambda s: _step(s, 2).update(kind="guardrail", ref="ghost")),
    (
        "extra key under tools.<t>.mcp",
        lambda s: (
            s["tools"].update(m={"description": "d", "mcp": {"server": "s", "x": 1}})
            or s.update(mcp_servers={"s": {"transport": "http", "url": "http://x"}})
        ),
    ),
    ("negative MCP timeout", lambda s: s.update(mcp_servers={"s": {"transport": "http", "url": "u", "timeout": -1}})),
    ("empty as_agent", lambda s: s["components"]["agents"]["writer"].update(as_agent="")),
    ("root steps null", lambda s: s["workflow"].update(steps=None)),
    ("graph max_steps absent", lambda s: with_graph(s)["workflow"].pop("max_steps", None)),
]


@pytest.mark.parametrize("mutate", [m for _, m in COERCED], ids=[n for n, _ in COERCED])
def test_accepted_like_the_reference(mutate: Callable[[Spec], Any]) -> None:
    spec = base_spec()
    mutate(spec)
    report = validate_document(spec, allowed_modules=ALLOWED)
    assert report.valid, [d.to_dict() for d in report.diagnostics]
    assert not [d for d in report.diagnostics if d.code.startswith("E_")]


REJECTED: list[tuple[str, Callable[[Spec], Any], list[tuple[str, str | None]]]] = [
    ("1e308 integer", lambda s: _step(s).update(max_retries=1e308), [("E_SCHEMA", None)]),
    ('"2.5" integer', lambda s: _step(s).update(max_retries="2.5"), [("E_SCHEMA", None)]),
    ('"5." integer', lambda s: _step(s).update(max_retries="5."), [("E_SCHEMA", None)]),
    ('"maybe" boolean', lambda s: _step(s).update(enabled="maybe"), [("E_SCHEMA", None)]),
    ("components null", lambda s: s.update(components=None), [("E_SCHEMA", None)]),
    ("defaults null", lambda s: s["agent"].update(defaults=None), [("E_SCHEMA", None)]),
    ("graph max_steps null", lambda s: with_graph(s)["workflow"].update(max_steps=None), [("E_SCHEMA", None)]),
    ("skill source ~", lambda s: s.update(skills={"k": {"source": "~/k"}}), [("E_SCHEMA", None)]),
    ("skill source ..", lambda s: s.update(skills={"k": {"source": "a/../k"}}), [("E_SCHEMA", None)]),
    (
        "guardrail without id and type",
        lambda s: _guardrails(s, input=[{"action": "warn"}]),
        [
            ("E_GUARDRAIL_FIELDS", "agent.guardrails.input[0].id"),
            ("E_GUARDRAIL_FIELDS", "agent.guardrails.input[0].type"),
        ],
    ),
    (
        "guardrail item not an object",
        lambda s: _guardrails(s, output=[3]),
        [("E_GUARDRAIL_FIELDS", "agent.guardrails.output[0]")],
    ),
    (
        "guardrail null action",
        lambda s: _guardrails(s, input=[{"id": "g", "type": "keyword", "action": None}]),
        [("E_GUARDRAIL_ACTION_UNSUPPORTED", "agent.guardrails.input[0].action")],
    ),
    (
        "guardrail empty mode",
        lambda s: _guardrails(s, input=[{"id": "g", "type": "keyword", "mode": ""}]),
        [("E_GUARDRAIL_MODE_UNSUPPORTED", "agent.guardrails.input[0].mode")],
    ),
    (
        "memory without policy",
        lambda s: s["agent"].update(memory={"top_k": 2}),
        [("E_MEMORY_POLICY_REQUIRED", "agent.memory.policy")],
    ),
    (
        "mcp tool without server",
        lambda s: s["tools"]["search"].update(implementation=None, mcp={"name": "x"}),
        [("E_MCP_TOOL_NO_SERVER", "tools.search.mcp")],
    ),
    (
        "mcp {} is no backing",
        lambda s: s["tools"]["search"].update(implementation=None, mcp={}),
        [("E_TOOL_NO_BACKING", "tools.search")],
    ),
    (
        "empty agent is no backing",
        lambda s: s["tools"]["search"].update(implementation="", agent=""),
        [("E_TOOL_NO_BACKING", "tools.search")],
    ),
    (
        "as_agent with a model",
        lambda s: s["components"]["agents"].update(w={"name": "w", "as_agent": "sub", "model": "m"}),
        [("E_AS_AGENT_FIELDS", "components.agents.w")],
    ),
    (
        "participant fallback",
        lambda s: with_orchestration("concurrent", s)["workflow"]["participants"][0].update(on_error="fallback"),
        [("E_PARTICIPANT_FALLBACK_UNSUPPORTED", "workflow.participants[0].fallback_ref")],
    ),
    (
        "unknown graph start",
        lambda s: with_graph(s)["workflow"].update(start=""),
        [("E_GRAPH_START", "workflow.start"), ("E_GRAPH_START_UNKNOWN", "workflow.start")],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in REJECTED], ids=[n for n, _, _ in REJECTED])
def test_rejected_like_the_reference(mutate: Callable[[Spec], Any], expected: list[tuple[str, str | None]]) -> None:
    spec = base_spec()
    mutate(spec)
    assert [f for f in _findings(spec) if f[0].startswith("E_")] == expected


def test_coerced_values_reach_the_plan() -> None:
    spec = base_spec()
    _step(spec).update(max_retries="2", timeout_seconds="30.0")
    _step(spec, 2).update(enabled="yes")
    plan = compile_document(spec, allowed_modules=ALLOWED)
    step = plan["workflows"][plan["root_workflow"]]["steps"][0]
    assert (step["max_retries"], step["timeout_seconds"]) == (2, 30)


def test_nested_human_is_found_at_any_depth() -> None:
    spec = base_spec()
    comps = spec["components"]["workflows"]
    comps["leaf"] = {"type": "sequential", "steps": [{"id": "h", "kind": "human", "ref": "reviewer"}]}
    comps["sub"]["steps"].append({"id": "n", "kind": "workflow", "ref": "leaf"})
    spec["workflow"]["steps"].append({"id": "outer", "kind": "workflow", "ref": "sub"})
    assert ("E_STEP_WORKFLOW_NESTED_HUMAN", "workflow.steps[3].ref") in _findings(spec)


def test_fallback_target_counts_as_reachable() -> None:
    spec = with_graph()
    spec["workflow"]["nodes"]["c"] = {"id": "c", "kind": "agent", "ref": "writer"}
    spec["workflow"]["nodes"]["a"].update(on_error="fallback", fallback_ref="c")
    assert not [f for f in _findings(spec) if f[0] == "W_GRAPH_NODE_UNREACHABLE"]


def test_empty_tool_selection_still_needs_permissions() -> None:
    spec = base_spec()
    spec["agent"]["tools"] = []
    assert ("W_TOOL_POLICY_UNRESTRICTED", "agent.tools.permissions") in _findings(spec)


def test_cycle_reported_at_components() -> None:
    spec = base_spec()
    spec["components"]["agents"]["loop"] = {"name": "loop", "as_agent": "cyc"}
    spec["components"]["workflows"]["cyc"] = {
        "type": "sequential",
        "steps": [{"id": "x", "kind": "agent", "ref": "loop"}],
    }
    assert ("E_BUILD_CYCLE", "components") in _findings(spec)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda s: _guardrails(s, input=[{"id": "g", "type": "magic"}]),
            ("E_GUARDRAIL_FIELDS", "agent.guardrails.input[0]"),
        ),
        (
            lambda s: s["agent"].update(memory={"policy": "summary"}),
            ("E_MEMORY_POLICY_REQUIRED", "agent.memory.summarizer"),
        ),
        (lambda s: _step(s, 2).update(kind="guardrail", ref="ghost"), ("E_STEP_AGENT_REF", "workflow.steps[2].ref")),
        (
            lambda s: (
                s["components"]["agents"].update(w={"name": "w", "as_agent": "hum"})
                or s["components"]["workflows"].update(
                    hum={"type": "sequential", "steps": [{"id": "h", "kind": "human", "ref": "reviewer"}]}
                )
            ),
            ("E_STEP_WORKFLOW_NESTED_HUMAN", "components.agents.w.as_agent"),
        ),
    ],
)
def test_build_checks_refuse_to_compile_what_validation_accepts(
    mutate: Callable[[Spec], Any], expected: tuple[str, str]
) -> None:
    spec = base_spec()
    mutate(spec)
    assert validate_document(spec, allowed_modules=ALLOWED).valid
    with pytest.raises(SpecInvalid) as info:
        compile_document(spec, allowed_modules=ALLOWED)
    assert expected in [(d.code, d.path) for d in info.value.diagnostics]


def test_unsupported_version_is_invalid_request() -> None:
    with pytest.raises(SpecVersionError) as info:
        validate_document({"version": "v9", "agent": {"name": "a"}})
    assert (info.value.code, info.value.message) == ("invalid_request", "Unsupported spec version: v9")
