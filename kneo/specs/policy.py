"""Policy report (§11.2 / §15) and environment policy enforcement (§11.1 / §12.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from kneo.sandbox import CommandRule

from .compiler import prepare
from .errors import Diagnostic, SpecError, error
from .plan import PERMISSION_FIELDS
from .semantic import semantic_diagnostics
from .walk import agent_entries, guardrail_stages, included_tools, tool_selection, workflow_entries

REQUIREMENT_CODES = frozenset(
    {
        "E_UNSAFE_TOOL_IMPORT",
        "E_UNSAFE_FUNCTION_IMPORT",
        "W_TOOL_NETWORK_UNRESTRICTED",
        "W_TOOL_SHELL_ALLOWED",
        "W_TOOL_FILESYSTEM_WRITE_ALLOWED",
        "W_TOOL_FILESYSTEM_READ_ALLOWED",
        "W_TOOL_POLICY_UNRESTRICTED",
    }
)


def _unrestricted(agent: dict[str, Any]) -> bool:
    if not included_tools(agent):
        return False
    perms = (tool_selection(agent) or {}).get("permissions")
    if perms is None:
        return True
    return bool(
        perms.get("allow_shell")
        or perms.get("allow_filesystem_write")
        or perms.get("allow_filesystem_read")
        or (perms.get("allow_network") and not perms.get("allowed_domains"))
    )


def _human_steps(spec: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for path, _key, wf in workflow_entries(spec):
        if wf["type"] == "sequential":
            steps += [
                {"workflow": path, "step_id": s["id"], "ref": s["ref"]} for s in wf["steps"] if s["kind"] == "human"
            ]
        elif wf["type"] == "graph":
            steps += [
                {"workflow": path, "step_id": k, "ref": s["ref"]}
                for k, s in sorted(wf["nodes"].items())
                if s["kind"] == "human"
            ]
    return steps


def build_report(spec: dict[str, Any], diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The §15 report of a schema-valid (filled) spec and its semantic diagnostics."""
    agents = agent_entries(spec)
    tools = spec["tools"]
    comps = spec["components"]
    workflow_steps = _human_steps(spec)
    requirements = [
        {"code": d.code, "path": d.path, "reason": d.message} for d in diagnostics if d.code in REQUIREMENT_CODES
    ]
    if not requirements and comps["humans"]:
        requirements.append(
            {
                "code": "I_HUMAN_REVIEW_CONFIGURED",
                "path": "components.humans",
                "reason": "Human review components are configured.",
            }
        )
    policies = []
    for path, _key, agent in agents:
        selection = tool_selection(agent) or {}
        perms = selection.get("permissions")
        policies.append(
            {
                "agent": path,
                "include": list(selection.get("include", [])),
                "exclude": list(selection.get("exclude", [])),
                "permissions": {f: perms.get(f) for f in PERMISSION_FIELDS} if perms else None,
                "unrestricted": _unrestricted(agent),
            }
        )
    guardrails = []
    for path, _key, agent in agents:
        stages = {s: len(items) for s, items in sorted(guardrail_stages(agent).items()) if items}
        guardrails.append({"agent": path, "configured": bool(stages), "stages": stages})
    return {
        "valid": True,
        "version": "v1",
        "summary": {
            "agent_count": len(agents),
            "workflow_count": len(workflow_entries(spec)),
            "tool_count": len(tools),
            "mcp_tool_count": sum(1 for t in tools.values() if t.get("mcp")),
            "human_reviewer_count": len(comps["humans"]),
            "human_review_step_count": len(workflow_steps),
            "diagnostic_count": len(diagnostics),
        },
        "memory": {
            "agents": [
                {
                    "agent": path,
                    "configured": bool(agent.get("memory")),
                    "policy": (agent.get("memory") or {}).get("policy"),
                    "config": dict(agent.get("memory") or {}),
                }
                for path, _key, agent in agents
            ]
        },
        "tools": {
            "declared": sorted(tools),
            "mcp_imports": [
                {"name": n, "config": {"server": None, "name": None, **tools[n]["mcp"]}}
                for n in sorted(tools)
                if tools[n].get("mcp")
            ],
            "agent_policies": policies,
        },
        "guardrails": {"agents": guardrails},
        "human_review": {
            "reviewers": sorted(comps["humans"]),
            "workflow_steps": workflow_steps,
            "required": bool(requirements),
            "requirements": requirements,
            "missing": any(d.code == "W_HUMAN_APPROVAL_MISSING" for d in diagnostics),
        },
        "diagnostics": [d.to_dict() for d in diagnostics],
    }


def policy_report(raw: Mapping[str, Any], *, allowed_modules: Sequence[str] = ()) -> dict[str, Any]:
    """``{valid, report}``; on a schema failure ``report = {valid: false, diagnostics: [E_SCHEMA]}``."""
    prepared = prepare(raw)
    if prepared.spec is None:
        diags = [d.to_dict() for d in [prepared.schema_error] if d is not None]
        return {"valid": False, "report": {"valid": False, "diagnostics": diags}}
    report = build_report(prepared.spec, semantic_diagnostics(prepared.spec, allowed_modules))
    return {"valid": True, "report": report}


@dataclass
class EnvironmentPolicy:
    """``environments.<env>.policy_enforcement`` (contract §11.1)."""

    enabled: bool = True
    fail_on_warnings: bool = False
    blocked_diagnostic_codes: list[str] = field(default_factory=list)
    require_human_review: bool = False
    require_tool_permissions: bool = False
    deny_unrestricted_tools: bool = False
    require_guardrails: bool = False
    deny_unlisted_mcp_commands: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> EnvironmentPolicy:
        """Build from a mapping; unknown keys or wrong types raise ``SpecError('env_policy_invalid')``."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise SpecError("Environment policy must be an object.", code="env_policy_invalid")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise SpecError(f"Unknown environment policy keys: {', '.join(unknown)}", code="env_policy_invalid")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "blocked_diagnostic_codes":
                value = [] if value is None else value
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise SpecError("blocked_diagnostic_codes must be a list of strings.", code="env_policy_invalid")
                values[key] = list(value)
            elif not isinstance(value, bool):
                raise SpecError(f"{key} must be a boolean.", code="env_policy_invalid")
            else:
                values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_report(raw_or_report: Mapping[str, Any], allowed_modules: Sequence[str]) -> dict[str, Any]:
    if "report" in raw_or_report and isinstance(raw_or_report.get("report"), Mapping):
        return dict(raw_or_report["report"])
    if "human_review" in raw_or_report and "diagnostics" in raw_or_report:
        return dict(raw_or_report)
    return policy_report(raw_or_report, allowed_modules=allowed_modules)["report"]


def unlisted_mcp_commands(raw: Mapping[str, Any], environment: str, rules: Sequence[CommandRule]) -> list[Diagnostic]:
    """``E_ENV_POLICY_MCP_COMMAND`` for each stdio MCP server whose command line is not on ``rules``."""
    servers = raw.get("mcp_servers")
    out: list[Diagnostic] = []
    for name, server in sorted(servers.items() if isinstance(servers, Mapping) else []):
        if not isinstance(server, Mapping) or server.get("transport") != "stdio":
            continue
        raw_args = server.get("args")
        args = tuple(str(a) for a in raw_args) if isinstance(raw_args, list) else ()
        if not any(rule.allows(str(server.get("command")), args) for rule in rules):
            out.append(
                error(
                    "E_ENV_POLICY_MCP_COMMAND",
                    f"Environment '{environment}' allows only the operator's MCP commands; "
                    f"server '{name}' is not listed.",
                    f"mcp_servers.{name}.command",
                    "Ask the operator to list the command line in KNEO_SERV_MCP_COMMANDS.",
                )
            )
    return out


def enforce_environment_policy(
    raw_or_report: Mapping[str, Any],
    environment: str,
    policy: Mapping[str, Any] | EnvironmentPolicy | None,
    *,
    allowed_modules: Sequence[str] = (),
    mcp_commands: Sequence[CommandRule] = (),
) -> list[Diagnostic]:
    """E_ENV_POLICY_* errors for a raw spec or a policy report (empty list = allowed).

    ``deny_unlisted_mcp_commands`` needs the raw spec (a report holds no server commands).
    """
    try:
        pol = policy if isinstance(policy, EnvironmentPolicy) else EnvironmentPolicy.from_mapping(policy)
    except SpecError as exc:
        return [error("E_ENV_POLICY", f"Environment '{environment}' policy is invalid: {exc.message}")]
    if not pol.enabled:
        return []
    report = _as_report(raw_or_report, allowed_modules)
    env = environment
    out: list[Diagnostic] = []
    if pol.deny_unlisted_mcp_commands:
        out += unlisted_mcp_commands(raw_or_report, env, mcp_commands)
    diags = [d for d in report.get("diagnostics", []) if isinstance(d, Mapping)]
    blocked = set(pol.blocked_diagnostic_codes)
    for d in diags:
        if d.get("code") in blocked:
            out.append(
                error(
                    "E_ENV_POLICY_DIAGNOSTIC",
                    f"Environment '{env}' blocks diagnostic {d.get('code')}.",
                    d.get("path"),
                )
            )
    if pol.fail_on_warnings:
        for d in diags:
            if d.get("severity") == "warning":
                out.append(
                    error(
                        "E_ENV_POLICY_WARNING",
                        f"Environment '{env}' does not allow warnings: {d.get('code')}: {d.get('message')}",
                        d.get("path"),
                    )
                )
    if "human_review" not in report:
        return out
    if pol.require_human_review and not report["human_review"]["workflow_steps"]:
        out.append(
            error(
                "E_ENV_POLICY_HUMAN_REVIEW",
                f"Environment '{env}' requires a human approval workflow step.",
                "workflow",
                "Add a kind: human step to a sequential or graph workflow.",
            )
        )
    for item in report["tools"]["agent_policies"]:
        if pol.require_tool_permissions and item["include"] and item["permissions"] is None:
            out.append(
                error(
                    "E_ENV_POLICY_TOOL_PERMISSIONS",
                    f"Environment '{env}' requires tool permissions for agent '{item['agent']}'.",
                    item["agent"],
                    "Add tools.permissions to the agent.",
                )
            )
    for item in report["tools"]["agent_policies"]:
        if pol.deny_unrestricted_tools and item["unrestricted"]:
            out.append(
                error(
                    "E_ENV_POLICY_UNRESTRICTED_TOOLS",
                    f"Environment '{env}' denies unrestricted tools for agent '{item['agent']}'.",
                    item["agent"],
                    "Restrict the agent's tool permissions.",
                )
            )
    if pol.require_guardrails and not any(a["configured"] for a in report["guardrails"]["agents"]):
        out.append(
            error(
                "E_ENV_POLICY_GUARDRAILS",
                f"Environment '{env}' requires at least one agent with guardrails.",
                "agent",
                "Add guardrails to an agent.",
            )
        )
    return out
