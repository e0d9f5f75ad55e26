"""Structural schema of the v1 spec language (1.2.0: unknown keys are errors)."""

from __future__ import annotations

from typing import Any

from .errors import Diagnostic
from .schema_types import (
    AnyValue,
    Bool,
    Enum,
    Field,
    Int,
    ListOf,
    MapOf,
    Model,
    Node,
    Nullable,
    Num,
    Problem,
    Str,
    Tagged,
    format_problems,
)

SCHEMA_SUGGESTION = "Check required fields, enum values, and object shapes."
MODES = ("bridge", "native", "adapter")
STEP_KINDS = ("agent", "function", "workflow", "human", "guardrail")
ON_ERROR = ("fail", "continue", "retry", "fallback")
CONDITION_TYPES = (
    "always",
    "never",
    "output_contains",
    "output_equals",
    "metadata_equals",
    "variable_equals",
    "status_is",
    "all_of",
    "any_of",
    "not",
)
APPEND_MODES = ("auto", "never", "user_only", "assistant_only")


def _opt(node: Node, default: Any = None) -> Field:
    return Field(Nullable(node), default=default)


def _req(node: Node) -> Field:
    return Field(node, required=True)


def _safe_path(value: str) -> str | None:
    if value.startswith("~") or ".." in value.replace("\\", "/").split("/"):
        return "path may not contain '..' or start with '~'"
    return None


STRING_LIST = ListOf(Str())
FREE_MAP = MapOf(AnyValue())

MODEL = Model(
    "ModelSpec",
    {
        "provider": _req(Str()),
        "name": _req(Str()),
        "temperature": _opt(Num()),
        "max_tokens": _opt(Int()),
        "timeout_seconds": _opt(Int()),
        "extra": Field(FREE_MAP, default=dict),
        "token_budget": _opt(Int(gt=0)),
    },
)
STRATEGY = Model(
    "StrategySpec",
    {
        "type": _req(Enum("simple", "react", "plan-act")),
        "max_iterations": _opt(Int()),
        "stop_on_tool_error": _opt(Bool()),
        "parallel_tool_calls": _opt(Bool()),
    },
)
RUNTIME = Model(
    "RuntimePreferences",
    {
        "preferred_mode": _opt(Enum(*MODES)),
        "allowed_modes": _opt(ListOf(Enum(*MODES))),
        "fallback_mode": _opt(Enum(*MODES)),
        "native_provider": _opt(Str()),
        "adapter_ref": _opt(Str()),
        "bridge_provider": _opt(Str()),
    },
)
PERMISSIONS = Model(
    "ToolPermissions",
    {
        "allow_network": _opt(Bool()),
        "allow_filesystem_read": _opt(Bool()),
        "allow_filesystem_write": _opt(Bool()),
        "allow_shell": _opt(Bool()),
        "allowed_domains": Field(STRING_LIST, default=list),
        "denied_domains": Field(STRING_LIST, default=list),
    },
)
TOOL_SELECTION = Model(
    "ToolSelection",
    {
        "include": Field(STRING_LIST, default=list),
        "exclude": Field(STRING_LIST, default=list),
        "permissions": _opt(PERMISSIONS),
    },
)
# Stage lists are checked item by item by the semantic layer; unknown stages are ignored.
GUARDRAILS = FREE_MAP
# Only defaults.append_mode is read; the plan falls back to "auto" for any other value.
DEFAULTS = FREE_MAP
AGENT = Model(
    "AgentSpec",
    {
        "name": _req(Str()),
        "description": _opt(Str()),
        "system_prompt": _opt(Str()),
        "model": _opt(MODEL),
        "strategy": _opt(STRATEGY),
        "runtime_preferences": _opt(RUNTIME),
        "history": _opt(FREE_MAP),
        "memory": _opt(FREE_MAP),
        "guardrails": _opt(GUARDRAILS),
        "tools": _opt(TOOL_SELECTION),
        "skills": Field(STRING_LIST, default=list),
        "middleware": Field(STRING_LIST, default=list),
        "defaults": Field(DEFAULTS, default=dict),
        "as_agent": _opt(Str()),
    },
)
# Any server value is looked up (E_MCP_UNKNOWN_SERVER); {} counts as no backing, so nothing is filled in.
MCP_REF = Model("McpToolRef", {}, extra=True)
TOOL = Model(
    "ToolSpec",
    {
        "description": _req(Str()),
        "parameters": Field(FREE_MAP, default=dict),
        "implementation": _opt(Str()),
        "mcp": _opt(MCP_REF),
        "agent": _opt(Str()),
    },
)
SKILL = Model("SkillSpec", {"source": _req(Str(_safe_path)), "description": _opt(Str())})
MCP_SERVER = Model(
    "McpServerSpec",
    {
        "transport": _req(Enum("stdio", "http", "sse")),
        "command": _opt(Str()),
        "args": Field(STRING_LIST, default=list),
        "env": _opt(MapOf(Str())),
        "cwd": _opt(Str()),
        "url": _opt(Str()),
        "sse_url": _opt(Str()),
        "message_url": _opt(Str()),
        "headers": _opt(MapOf(Str())),
        "timeout": _opt(Num()),
        "max_response_bytes": _opt(Int()),
        "sse_read_timeout": _opt(Num()),
        "verify": _opt(Bool()),
        "ca_bundle": _opt(Str(_safe_path)),
        "client_cert": _opt(Str(_safe_path)),
        "client_key": _opt(Str(_safe_path)),
        "client_key_ref": _opt(Str()),
    },
)
FUNCTION = Model(
    "FunctionComponentSpec",
    {
        "implementation": _req(Str()),
        "input_schema": _opt(FREE_MAP),
        "output_schema": _opt(FREE_MAP),
    },
)
HUMAN = Model(
    "HumanComponentSpec",
    {
        "description": _opt(Str()),
        "assignee": _opt(Str()),
        "timeout_seconds": _opt(Int()),
        "on_timeout": Field(Enum("fail", "continue", "escalate"), default="fail"),
        "escalation_assignee": _opt(Str()),
        "escalation_timeout_seconds": _opt(Int()),
        "request_type": Field(Enum("approval", "review", "correction", "selection", "freeform"), default="approval"),
        "options": _opt(STRING_LIST),
        "default_option": _opt(Str()),
        "allow_edit": _opt(Bool()),
        "context": _opt(FREE_MAP),
        "response_role": _opt(Enum("user", "assistant", "system")),
    },
)
STEP = Model(
    "WorkflowStepSpec",
    {
        "id": _req(Str()),
        "kind": _req(Enum(*STEP_KINDS)),
        "ref": _req(Str()),
        "enabled": Field(Bool(), default=True),
        "on_error": Field(Enum(*ON_ERROR), default="fail"),
        "fallback_ref": _opt(Str()),
        "max_retries": Field(Int(), default=0),
        "timeout_seconds": _opt(Int()),
        "retry_backoff_seconds": _opt(Num(ge=0)),
    },
)
CONDITION = Model("EdgeConditionSpec")
CONDITION.fields.update(
    {
        "type": _req(Enum(*CONDITION_TYPES)),
        "value": Field(AnyValue(), default=None),
        "key": _opt(Str()),
        "case_sensitive": Field(Bool(), default=False),
        "conditions": Field(ListOf(CONDITION), default=None),  # absent is null, an explicit null is E_SCHEMA
        "condition": _opt(CONDITION),
    }
)
EDGE = Model(
    "GraphEdgeSpec",
    {
        "from": _req(Str()),
        "to": _req(Str()),
        "condition": _opt(CONDITION),
        "label": _opt(Str()),
    },
)
_COMMON = {"type": _req(AnyValue()), "name": _opt(Str()), "description": _opt(Str())}
SELECTOR = Model(
    "HandoffSelectorSpec",
    {
        "type": Field(Enum("sequence", "round_robin"), default="sequence"),
        "sequence": Field(STRING_LIST, default=list),
    },
)
WORKFLOW = Tagged(
    "type",
    {
        "sequential": Model("SequentialWorkflowSpec", {**_COMMON, "steps": _req(ListOf(STEP))}),
        "graph": Model(
            "GraphWorkflowSpec",
            {
                **_COMMON,
                "start": _req(Str()),
                "nodes": _req(MapOf(STEP)),
                "edges": _req(ListOf(EDGE)),
                "max_steps": Field(Int(), default=50),
            },
        ),
        "concurrent": Model(
            "ConcurrentWorkflowSpec",
            {
                **_COMMON,
                "participants": _req(ListOf(STEP)),
                "max_iterations": _opt(Int()),
            },
        ),
        "handoff": Model(
            "HandoffWorkflowSpec",
            {
                **_COMMON,
                "participants": _req(ListOf(STEP)),
                "max_iterations": _opt(Int()),
                "selector": Field(SELECTOR, default=lambda: {"type": "sequence", "sequence": []}),
            },
        ),
        "group-chat": Model(
            "GroupChatWorkflowSpec",
            {
                **_COMMON,
                "participants": _req(ListOf(STEP)),
                "max_iterations": _opt(Int()),
                "rounds": Field(Int(), default=1),
            },
        ),
    },
    aliases={"group_chat": "group-chat"},
)
COMPONENTS = Model(
    "ComponentsSpec",
    {
        "agents": Field(MapOf(AGENT), default=dict),
        "workflows": Field(MapOf(WORKFLOW), default=dict),
        "functions": Field(MapOf(FUNCTION), default=dict),
        "humans": Field(MapOf(HUMAN), default=dict),
    },
)
SPEC = Model(
    "KneoSpec",
    {
        "version": _req(Enum("v1")),
        "metadata": _opt(FREE_MAP),
        "agent": _req(AGENT),
        "workflow": _opt(WORKFLOW),
        "components": Field(COMPONENTS, default=dict),
        "tools": Field(MapOf(TOOL), default=dict),
        "skills": Field(MapOf(SKILL), default=dict),
        "policies": Field(FREE_MAP, default=dict),
        "mcp_servers": Field(MapOf(MCP_SERVER), default=dict),
    },
)


def check_schema(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, Diagnostic | None]:
    """Validate the normalised document.

    Returns ``(filled, None)`` on success, where ``filled`` has every default applied, or
    ``(None, E_SCHEMA diagnostic)`` listing every problem.
    """
    problems: list[Problem] = []
    filled = SPEC.check(doc, (), problems)
    if problems:
        message = format_problems(problems, "KneoSpec")
        return None, Diagnostic("E_SCHEMA", "error", message, None, SCHEMA_SUGGESTION)
    # components defaults are filled lazily for an omitted block
    comps = filled.setdefault("components", {})
    for bucket in ("agents", "workflows", "functions", "humans"):
        comps.setdefault(bucket, {})
    return filled, None
