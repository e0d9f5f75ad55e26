"""Every semantic diagnostic code with its path (and the basic ordering rules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kneo.specs import SpecInvalid, compile_document, validate_document

from .factories import ALLOWED, base_spec, with_graph, with_orchestration

Spec = dict[str, Any]


def _steps(s: Spec) -> list[Spec]:
    return s["workflow"]["steps"]


def _set(mapping: Spec, **values: Any) -> Spec:
    mapping.update(values)
    return mapping


def _fallback(s: Spec, target: str) -> Spec:
    return _set(_steps(s)[0], on_error="fallback", fallback_ref=target)


def _graph_node(s: Spec, key: str, **values: Any) -> Spec:
    s["workflow"]["nodes"][key] = {"id": key, "kind": "agent", "ref": "writer", **values}
    return s


def _cond(s: Spec, condition: Spec) -> None:
    s["workflow"]["edges"][0]["condition"] = condition


def _perms(s: Spec, **values: Any) -> None:
    s["agent"]["tools"]["permissions"] = values


def _nested_human(s: Spec) -> None:
    s["components"]["workflows"]["sub"]["steps"].append({"id": "h", "kind": "human", "ref": "reviewer"})
    _steps(s).append({"id": "n", "kind": "workflow", "ref": "sub"})


def _cycle(s: Spec) -> None:
    s["components"]["agents"]["looper"] = {"name": "looper", "as_agent": "loop"}
    s["components"]["workflows"]["loop"] = {
        "type": "sequential",
        "steps": [{"id": "x", "kind": "agent", "ref": "looper"}],
    }


def _no_human(s: Spec) -> None:
    s.pop("workflow")
    s["agent"]["tools"]["permissions"] = {"allow_shell": True}


CASES: list[tuple[str, Callable[[Spec], Any], str]] = [
    ("E_STEP_AGENT_REF", lambda s: _set(_steps(s)[2], ref="nope"), "workflow.steps[2].ref"),
    ("E_STEP_FUNCTION_REF", lambda s: _set(_steps(s)[0], ref="nope"), "workflow.steps[0].ref"),
    ("E_STEP_HUMAN_REF", lambda s: _set(_steps(s)[1], ref="nope"), "workflow.steps[1].ref"),
    (
        "E_STEP_WORKFLOW_REF",
        lambda s: _steps(s).append({"id": "n", "kind": "workflow", "ref": "nope"}),
        "workflow.steps[3].ref",
    ),
    (
        "E_STEP_WORKFLOW_SELF_REF",
        lambda s: s["components"]["workflows"]["sub"]["steps"].append({"id": "s", "kind": "workflow", "ref": "sub"}),
        "components.workflows.sub.steps[1].ref",
    ),
    ("E_STEP_DUPLICATE_ID", lambda s: _set(_steps(s)[2], id="draft"), "workflow.steps[2].id"),
    (
        "E_STEP_FALLBACK_REF",
        lambda s: _set(_steps(s)[0], on_error="fallback"),
        "workflow.steps[0].fallback_ref",
    ),
    ("E_STEP_FALLBACK_UNKNOWN", lambda s: _fallback(s, "zzz"), "workflow.steps[0].fallback_ref"),
    ("E_STEP_FALLBACK_HUMAN", lambda s: _fallback(s, "approve"), "workflow.steps[0].fallback_ref"),
    (
        "W_STEP_FALLBACK_DISABLED",
        lambda s: (_set(_steps(s)[2], enabled=False), _fallback(s, "write")),
        "workflow.steps[0].fallback_ref",
    ),
    ("E_STEP_WORKFLOW_NESTED_HUMAN", _nested_human, "workflow.steps[3].ref"),
    (
        "W_GRAPH_NODE_ID_MISMATCH",
        lambda s: _set(with_graph(s)["workflow"]["nodes"]["b"], id="bb"),
        "workflow.nodes.b.id",
    ),
    (
        "E_GRAPH_NODE_FALLBACK_REF",
        lambda s: _set(with_graph(s)["workflow"]["nodes"]["a"], on_error="fallback"),
        "workflow.nodes.a.fallback_ref",
    ),
    (
        "E_GRAPH_NODE_FALLBACK_UNKNOWN",
        lambda s: _set(with_graph(s)["workflow"]["nodes"]["a"], fallback_ref="zz"),
        "workflow.nodes.a.fallback_ref",
    ),
    (
        "E_GRAPH_NODE_FALLBACK_DISABLED",
        lambda s: (_graph_node(with_graph(s), "c", enabled=False), _graph_node(s, "a", fallback_ref="c")),
        "workflow.nodes.a.fallback_ref",
    ),
    (
        "E_GRAPH_FALLBACK_HUMAN",
        lambda s: (
            _graph_node(with_graph(s), "h", kind="human", ref="reviewer"),
            _graph_node(s, "a", fallback_ref="h"),
        ),
        "workflow.nodes.a.fallback_ref",
    ),
    ("E_GRAPH_START", lambda s: _set(with_graph(s)["workflow"], start=" "), "workflow.start"),
    ("E_GRAPH_START_UNKNOWN", lambda s: _set(with_graph(s)["workflow"], start="zz"), "workflow.start"),
    ("E_GRAPH_START_DISABLED", lambda s: _graph_node(with_graph(s), "a", enabled=False), "workflow.start"),
    ("W_GRAPH_NODE_UNREACHABLE", lambda s: _graph_node(with_graph(s), "c"), "workflow.nodes.c"),
    ("E_GRAPH_MAX_STEPS", lambda s: _set(with_graph(s)["workflow"], max_steps=0), "workflow.max_steps"),
    (
        "E_GRAPH_EDGE_FROM",
        lambda s: with_graph(s)["workflow"]["edges"].append({"from": "zz", "to": "b"}),
        "workflow.edges[1]",
    ),
    (
        "E_GRAPH_EDGE_TO",
        lambda s: with_graph(s)["workflow"]["edges"].append({"from": "a", "to": "zz"}),
        "workflow.edges[1]",
    ),
    (
        "E_CONDITION_VALUE",
        lambda s: _cond(with_graph(s), {"type": "output_equals"}),
        "workflow.edges[0].condition.value",
    ),
    (
        "E_CONDITION_KEY",
        lambda s: _cond(with_graph(s), {"type": "metadata_equals", "value": 1}),
        "workflow.edges[0].condition.key",
    ),
    (
        "E_CONDITION_CHILDREN",
        lambda s: _cond(with_graph(s), {"type": "all_of", "conditions": []}),
        "workflow.edges[0].condition.conditions",
    ),
    (
        "E_CONDITION_CHILD",
        lambda s: _cond(with_graph(s), {"type": "not"}),
        "workflow.edges[0].condition.condition",
    ),
    (
        "E_CONDITION_VALUE",
        lambda s: _cond(with_graph(s), {"type": "any_of", "conditions": [{"type": "always"}, {"type": "status_is"}]}),
        "workflow.edges[0].condition.conditions[1].value",
    ),
    (
        "E_CONDITION_KEY",
        lambda s: _cond(with_graph(s), {"type": "not", "condition": {"type": "variable_equals", "value": "v"}}),
        "workflow.edges[0].condition.condition.key",
    ),
    (
        "E_PARTICIPANT_DUPLICATE_ID",
        lambda s: _set(with_orchestration("concurrent", s)["workflow"]["participants"][1], id="a"),
        "workflow.participants[1].id",
    ),
    (
        "E_HANDOFF_SELECTOR_REF",
        lambda s: with_orchestration("handoff", s, selector={"type": "sequence", "sequence": ["a", "zz"]}),
        "workflow.selector.sequence[1]",
    ),
    ("E_GROUP_CHAT_ROUNDS", lambda s: with_orchestration("group_chat", s, rounds=0), "workflow.rounds"),
    (
        "E_PARTICIPANT_FALLBACK_UNSUPPORTED",
        lambda s: _set(with_orchestration("handoff", s)["workflow"]["participants"][0], on_error="fallback"),
        "workflow.participants[0].fallback_ref",
    ),
    (
        "E_ORCHESTRATION_MULTI_HUMAN_UNSUPPORTED",
        lambda s: with_orchestration("concurrent", s)["workflow"]["participants"].extend(
            [
                {"id": "h1", "kind": "human", "ref": "reviewer"},
                {"id": "h2", "kind": "human", "ref": "reviewer"},
            ]
        ),
        "workflow.participants",
    ),
    (
        "E_STEP_AGENT_REF",
        lambda s: _set(with_orchestration("group-chat", s)["workflow"]["participants"][1], ref="zz"),
        "workflow.participants[1].ref",
    ),
    ("E_TOOL_CONFLICT", lambda s: _set(s["agent"]["tools"], exclude=["search"]), "agent.tools"),
    ("E_TOOL_REF", lambda s: s["agent"]["tools"]["include"].append("nope"), "agent.tools"),
    (
        "E_SKILL_REF",
        lambda s: _set(s["components"]["agents"]["writer"], skills=["nope"]),
        "components.agents.writer.skills",
    ),
    (
        "E_RUNTIME_PREFERRED_NOT_ALLOWED",
        lambda s: _set(
            s["agent"],
            runtime_preferences={
                "preferred_mode": "adapter",
                "allowed_modes": ["bridge"],
                "adapter_ref": "x",
            },
        ),
        "agent.runtime_preferences.preferred_mode",
    ),
    (
        "E_RUNTIME_FALLBACK_NOT_ALLOWED",
        lambda s: _set(s["agent"], runtime_preferences={"allowed_modes": ["bridge"], "fallback_mode": "native"}),
        "agent.runtime_preferences.fallback_mode",
    ),
    (
        "W_RUNTIME_NATIVE_PROVIDER",
        lambda s: _set(s["agent"], runtime_preferences={"preferred_mode": "native"}),
        "agent.runtime_preferences.native_provider",
    ),
    (
        "W_RUNTIME_ADAPTER_REF",
        lambda s: _set(s["agent"], runtime_preferences={"preferred_mode": "adapter"}),
        "agent.runtime_preferences.adapter_ref",
    ),
    (
        "W_AGENT_MODEL",
        lambda s: _set(s["components"]["agents"]["writer"], strategy="react"),
        "components.agents.writer.model",
    ),
    (
        "E_MEMORY_POLICY_REQUIRED",
        lambda s: _set(s["components"]["agents"]["writer"], memory={"max_messages": 3}),
        "components.agents.writer.memory.policy",
    ),
    (
        "E_GUARDRAIL_FIELDS",
        lambda s: _set(s["agent"], guardrails={"input": [{"type": "keyword"}]}),
        "agent.guardrails.input[0].id",
    ),
    (
        "E_GUARDRAIL_FIELDS",
        lambda s: _set(s["agent"], guardrails={"output": [{"id": "g", "type": ""}]}),
        "agent.guardrails.output[0].type",
    ),
    (
        "E_GUARDRAIL_FIELDS",
        lambda s: _set(s["agent"], guardrails={"output": ["g"]}),
        "agent.guardrails.output[0]",
    ),
    (
        "E_GUARDRAIL_MODE_UNSUPPORTED",
        lambda s: _set(s["agent"], guardrails={"tool": [{"id": "g", "type": "keyword", "mode": "runtime"}]}),
        "agent.guardrails.tool[0].mode",
    ),
    (
        "E_GUARDRAIL_ACTION_UNSUPPORTED",
        lambda s: _set(s["agent"], guardrails={"input": [{"id": "g", "type": "regex", "action": "redact"}]}),
        "agent.guardrails.input[0].action",
    ),
    (
        "E_HUMAN_DEFAULT_OPTION_NOT_IN_OPTIONS",
        lambda s: _set(s["components"]["humans"]["reviewer"], options=["a"], default_option="b"),
        "components.humans.reviewer.default_option",
    ),
    (
        "E_HUMAN_SELECTION_REQUIRES_OPTIONS",
        lambda s: _set(s["components"]["humans"]["reviewer"], request_type="selection"),
        "components.humans.reviewer.options",
    ),
    (
        "W_HUMAN_RESPONSE_ROLE_SYSTEM",
        lambda s: _set(s["components"]["humans"]["reviewer"], response_role="system"),
        "components.humans.reviewer.response_role",
    ),
    ("E_TOOL_NO_BACKING", lambda s: s["tools"]["search"].pop("implementation"), "tools.search"),
    ("E_TOOL_MULTIPLE_BACKINGS", lambda s: _set(s["tools"]["search"], agent="writer"), "tools.search"),
    (
        "E_AGENT_TOOL_UNKNOWN_AGENT",
        lambda s: _set(s["tools"], ask={"description": "d", "agent": "nope"}),
        "tools.ask.agent",
    ),
    (
        "W_AGENT_TOOL_PARAMETERS_IGNORED",
        lambda s: _set(s["tools"], ask={"description": "d", "agent": "writer", "parameters": {"type": "object"}}),
        "tools.ask.parameters",
    ),
    (
        "E_AS_AGENT_FIELDS",
        lambda s: _set(s["components"]["agents"], w2={"name": "w2", "as_agent": "sub", "model": "gpt"}),
        "components.agents.w2",
    ),
    (
        "E_AS_AGENT_UNKNOWN_WORKFLOW",
        lambda s: _set(s["components"]["agents"], w2={"name": "w2", "as_agent": "zz"}),
        "components.agents.w2.as_agent",
    ),
    (
        "E_MCP_MISSING_FIELD",
        lambda s: _set(s, mcp_servers={"srv": {"transport": "stdio"}}),
        "mcp_servers.srv.command",
    ),
    (
        "E_MCP_MISSING_FIELD",
        lambda s: _set(s, mcp_servers={"srv": {"transport": "sse"}}),
        "mcp_servers.srv.sse_url",
    ),
    (
        "W_MCP_TLS_VERIFY_DISABLED",
        lambda s: _set(s, mcp_servers={"srv": {"transport": "http", "url": "https://x", "verify": False}}),
        "mcp_servers.srv.verify",
    ),
    (
        "E_MCP_TOOL_NO_SERVER",
        lambda s: _set(s["tools"], remote={"description": "d", "mcp": {"name": "x"}}),
        "tools.remote.mcp",
    ),
    (
        "E_MCP_UNKNOWN_SERVER",
        lambda s: _set(s["tools"], remote={"description": "d", "mcp": {"server": "zz"}}),
        "tools.remote.mcp.server",
    ),
    ("E_BUILD_CYCLE", _cycle, "components"),
    (
        "E_UNSAFE_TOOL_IMPORT",
        lambda s: _set(s["tools"]["search"], implementation="os.system"),
        "tools.search.implementation",
    ),
    (
        "E_UNSAFE_FUNCTION_IMPORT",
        lambda s: _set(s["components"]["functions"]["draft"], implementation="eval"),
        "components.functions.draft.implementation",
    ),
    (
        "W_TOOL_POLICY_UNRESTRICTED",
        lambda s: s["agent"]["tools"].pop("permissions"),
        "agent.tools.permissions",
    ),
    (
        "W_TOOL_NETWORK_UNRESTRICTED",
        lambda s: _perms(s, allow_network=True),
        "agent.tools.permissions.allowed_domains",
    ),
    ("W_TOOL_SHELL_ALLOWED", lambda s: _perms(s, allow_shell=True), "agent.tools.permissions.allow_shell"),
    (
        "W_TOOL_FILESYSTEM_WRITE_ALLOWED",
        lambda s: _perms(s, allow_filesystem_write=True),
        "agent.tools.permissions.allow_filesystem_write",
    ),
    (
        "W_TOOL_FILESYSTEM_READ_ALLOWED",
        lambda s: _perms(s, allow_filesystem_read=True),
        "agent.tools.permissions.allow_filesystem_read",
    ),
    ("W_HUMAN_APPROVAL_MISSING", _no_human, "workflow"),
]


def test_base_spec_is_clean() -> None:
    report = validate_document(base_spec(), allowed_modules=ALLOWED)
    assert report.valid and report.diagnostics == []


@pytest.mark.parametrize(("code", "mutate", "path"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_diagnostic_code_and_path(code: str, mutate: Callable[[Spec], Any], path: str) -> None:
    spec = base_spec()
    mutate(spec)
    report = validate_document(spec, allowed_modules=ALLOWED)
    found = [d for d in report.diagnostics if d.code == code]
    assert found, [d.to_dict() for d in report.diagnostics]
    assert path in [d.path for d in found]
    expected_severity = {"E": "error", "W": "warning"}[code[0]]
    assert all(d.severity == expected_severity for d in found)
    assert report.valid == (not any(d.severity == "error" for d in report.diagnostics))
    assert all(d.message and d.suggestion for d in found)


def test_reference_message_and_suggestion() -> None:
    spec = base_spec()
    spec["workflow"]["steps"][2]["ref"] = "ghost"
    (diag,) = validate_document(spec, allowed_modules=ALLOWED).diagnostics
    assert diag.message == "Agent component 'ghost' is referenced but not defined."
    assert diag.suggestion == "Add it under components.agents."


def test_order_workflow_refs_before_tools_before_governance() -> None:
    spec = base_spec()
    spec["agent"]["tools"]["include"].append("nope")
    spec["agent"]["tools"]["permissions"] = {"allow_shell": True}
    spec["workflow"]["steps"][2]["ref"] = "ghost"
    spec["components"]["workflows"]["sub"]["steps"][0]["ref"] = "ghost2"
    codes = [d.code for d in validate_document(spec, allowed_modules=ALLOWED).diagnostics]
    assert codes == ["E_STEP_AGENT_REF", "E_STEP_AGENT_REF", "E_TOOL_REF", "W_TOOL_SHELL_ALLOWED"]


def test_component_agents_reported_alphabetically() -> None:
    spec = base_spec()
    agents = spec["components"]["agents"]
    agents["zeta"] = {"name": "z", "tools": ["search"]}
    agents["alpha"] = {"name": "a", "tools": ["search"]}
    paths = [d.path for d in validate_document(spec, allowed_modules=ALLOWED).diagnostics]
    assert paths == ["components.agents.alpha.tools.permissions", "components.agents.zeta.tools.permissions"]


def test_human_step_anywhere_satisfies_approval() -> None:
    spec = base_spec()
    spec["agent"]["tools"]["permissions"] = {"allow_shell": True}
    spec["workflow"]["steps"].pop(1)
    spec["components"]["workflows"]["other"] = {
        "type": "concurrent",
        "participants": [{"id": "h", "kind": "human", "ref": "missing"}],
    }
    codes = [d.code for d in validate_document(spec, allowed_modules=ALLOWED).diagnostics]
    assert "W_HUMAN_APPROVAL_MISSING" not in codes


def test_guardrail_item_valid_variants() -> None:
    spec = base_spec()
    spec["components"]["functions"]["check"] = {"implementation": "examples.fns.check"}
    spec["agent"]["guardrails"] = {
        "input": [{"id": "k", "type": "keyword", "config": {"keywords": ["secret"]}}],
        "output": [{"id": "r", "type": "regex", "action": "revise", "config": {"patterns": ["a+"]}}],
        "tool": [{"id": "f", "type": "function", "ref": "check", "action": "redact"}],
        "workflow": [{"id": "a", "type": "agent", "ref": "writer", "action": "warn"}],
    }
    spec["agent"]["memory"] = {"policy": "sliding_window", "max_messages": 5}
    assert validate_document(spec, allowed_modules=ALLOWED).diagnostics == []


def test_bad_regex_is_a_build_error_not_a_validation_error() -> None:
    spec = base_spec()
    spec["agent"]["guardrails"] = {"input": [{"id": "r", "type": "regex", "config": {"patterns": ["("]}}]}
    assert validate_document(spec, allowed_modules=ALLOWED).valid
    with pytest.raises(SpecInvalid) as info:
        compile_document(spec, allowed_modules=ALLOWED)
    assert [(d.code, d.path) for d in info.value.diagnostics] == [("E_GUARDRAIL_FIELDS", "agent.guardrails.input[0]")]
