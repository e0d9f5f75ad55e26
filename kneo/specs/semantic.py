"""Semantic validation of a schema-valid spec (cross references and governance, spec-format §14)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .build_checks import MEMORY_POLICIES
from .cycles import cycle_diagnostics
from .errors import Diagnostic, error, warning
from .governance import governance_diagnostics
from .semantic_tools import tool_ref_diagnostics
from .semantic_workflows import graph_diagnostics, workflow_ref_diagnostics
from .walk import agent_entries, guardrail_stages

_BASE_ACTIONS = ("warn", "block", "retry", "escalate", "human_review")
STAGE_ACTIONS = {
    "input": _BASE_ACTIONS,
    "output": (*_BASE_ACTIONS, "revise"),
    "tool": (*_BASE_ACTIONS, "revise", "redact"),
    "workflow": (*_BASE_ACTIONS, "revise", "redact"),
}
AS_AGENT_ALLOWED = frozenset({"name", "description", "system_prompt", "as_agent"})


def skill_ref_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    return [
        error(
            "E_SKILL_REF",
            f"Skill '{name}' is referenced but not declared.",
            f"{path}.skills",
            "Declare it under skills.",
        )
        for path, _key, agent in agent_entries(spec)
        for name in agent["skills"]
        if name not in spec["skills"]
    ]


def runtime_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for path, _key, agent in agent_entries(spec):
        prefs = agent.get("runtime_preferences")
        if not prefs:
            continue
        rpath = f"{path}.runtime_preferences"
        allowed = prefs.get("allowed_modes") or []
        preferred, fallback = prefs.get("preferred_mode"), prefs.get("fallback_mode")
        if allowed and preferred is not None and preferred not in allowed:
            out.append(
                error(
                    "E_RUNTIME_PREFERRED_NOT_ALLOWED",
                    f"Preferred runtime mode '{preferred}' is not in allowed_modes.",
                    f"{rpath}.preferred_mode",
                    "Add it to allowed_modes.",
                )
            )
        if allowed and fallback is not None and fallback not in allowed:
            out.append(
                error(
                    "E_RUNTIME_FALLBACK_NOT_ALLOWED",
                    f"Fallback runtime mode '{fallback}' is not in allowed_modes.",
                    f"{rpath}.fallback_mode",
                    "Add it to allowed_modes.",
                )
            )
        if preferred == "native" and not prefs.get("native_provider"):
            out.append(
                warning(
                    "W_RUNTIME_NATIVE_PROVIDER",
                    "Native runtime selected without native_provider.",
                    f"{rpath}.native_provider",
                    "Set native_provider (e.g. openai).",
                )
            )
        if preferred == "adapter" and not prefs.get("adapter_ref"):
            out.append(
                warning(
                    "W_RUNTIME_ADAPTER_REF",
                    "Adapter runtime selected without adapter_ref.",
                    f"{rpath}.adapter_ref",
                    "Set adapter_ref.",
                )
            )
    return out


GUARDRAIL_HINT = "Give every guardrail an id and a type."


def _memory(path: str, memory: dict[str, Any]) -> list[Diagnostic]:
    """Only a missing policy is a validation error; unknown policies and refs are build checks."""
    if memory.get("policy"):
        return []
    return [
        error(
            "E_MEMORY_POLICY_REQUIRED",
            "memory.policy is required.",
            f"{path}.memory.policy",
            f"Set memory.policy to one of {', '.join(MEMORY_POLICIES)}.",
        )
    ]


def _guardrail_item(ipath: str, stage: str, item: Any) -> list[Diagnostic]:
    """Presence of id and type, mode and per-stage action (type, ref and config are build checks)."""
    if not isinstance(item, dict):
        return [error("E_GUARDRAIL_FIELDS", "Guardrail item must be an object.", ipath, GUARDRAIL_HINT)]
    out = [
        error("E_GUARDRAIL_FIELDS", f"Guardrail is missing `{name}`.", f"{ipath}.{name}", GUARDRAIL_HINT)
        for name in ("id", "type")
        if not item.get(name)
    ]
    if "mode" in item and item["mode"] != "middleware":
        out.append(
            error(
                "E_GUARDRAIL_MODE_UNSUPPORTED",
                f"Guardrail mode '{item['mode']}' is not supported.",
                f"{ipath}.mode",
                "Use mode: middleware.",
            )
        )
    if "action" in item and item["action"] not in STAGE_ACTIONS[stage]:
        out.append(
            error(
                "E_GUARDRAIL_ACTION_UNSUPPORTED",
                f"Guardrail action '{item['action']}' is not supported on the {stage} stage.",
                f"{ipath}.action",
                f"Use one of {', '.join(STAGE_ACTIONS[stage])}.",
            )
        )
    return out


def _as_agent(path: str, agent: dict[str, Any], workflows: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    target = agent["as_agent"]
    extra = sorted(k for k, v in agent.items() if k not in AS_AGENT_ALLOWED and v not in (None, [], {}))
    if extra:
        out.append(
            error(
                "E_AS_AGENT_FIELDS",
                f"A workflow-backed agent may only set name, description and system_prompt "
                f"(found: {', '.join(extra)}).",
                path,
                "Remove the other fields or drop as_agent.",
            )
        )
    if target not in workflows:
        out.append(
            error(
                "E_AS_AGENT_UNKNOWN_WORKFLOW",
                f"Workflow component '{target}' is referenced but not defined.",
                f"{path}.as_agent",
                "Add it under components.workflows.",
            )
        )
    return out


def agent_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Model/strategy, memory, guardrails and workflow-backed agent checks."""
    out: list[Diagnostic] = []
    workflows = spec["components"]["workflows"]
    for path, _key, agent in agent_entries(spec):
        strategy = agent.get("strategy")
        if strategy and strategy["type"] in ("react", "plan-act") and agent.get("model") is None:
            out.append(
                warning(
                    "W_AGENT_MODEL",
                    f"Strategy '{strategy['type']}' is used without a model.",
                    f"{path}.model",
                    "Declare a model for this agent.",
                )
            )
        if agent.get("memory"):
            out += _memory(path, agent["memory"])
        for stage, items in guardrail_stages(agent).items():
            for index, item in enumerate(items):
                out += _guardrail_item(f"{path}.guardrails.{stage}[{index}]", stage, item)
        if agent.get("as_agent"):
            out += _as_agent(path, agent, workflows)
    return out


def human_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    humans = spec["components"]["humans"]
    for name in sorted(humans):
        human, hpath = humans[name], f"components.humans.{name}"
        options = human.get("options")
        if human["request_type"] == "selection" and not options:
            out.append(
                error(
                    "E_HUMAN_SELECTION_REQUIRES_OPTIONS",
                    f"Human '{name}' uses request_type selection without options.",
                    f"{hpath}.options",
                    "List the options to choose from.",
                )
            )
        default = human.get("default_option")
        if default is not None and default not in (options or []):
            out.append(
                error(
                    "E_HUMAN_DEFAULT_OPTION_NOT_IN_OPTIONS",
                    f"default_option '{default}' is not one of the options.",
                    f"{hpath}.default_option",
                    "Use one of the listed options.",
                )
            )
        if human.get("response_role") == "system":
            out.append(
                warning(
                    "W_HUMAN_RESPONSE_ROLE_SYSTEM",
                    f"Human '{name}' responses are added as system messages.",
                    f"{hpath}.response_role",
                    "Prefer response_role user or assistant.",
                )
            )
    return out


def semantic_diagnostics(spec: dict[str, Any], allowed_modules: Sequence[str] = ()) -> list[Diagnostic]:
    """All semantic diagnostics in the documented order (§14)."""
    return [
        *workflow_ref_diagnostics(spec),
        *tool_ref_diagnostics(spec),
        *skill_ref_diagnostics(spec),
        *runtime_diagnostics(spec),
        *graph_diagnostics(spec),
        *agent_diagnostics(spec),
        *human_diagnostics(spec),
        *cycle_diagnostics(spec),
        *governance_diagnostics(spec, allowed_modules),
    ]
