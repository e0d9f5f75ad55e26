"""Semantic checks of agent tool selections, tool declarations and MCP servers."""

from __future__ import annotations

from typing import Any

from .errors import Diagnostic, error, warning
from .walk import agent_entries, tool_selection


def tool_ref_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Agent tool selections (E_TOOL_CONFLICT, E_TOOL_REF) then tool declarations and MCP servers."""
    out: list[Diagnostic] = []
    for path, _key, agent in agent_entries(spec):
        selection = tool_selection(agent)
        if not selection:
            continue
        for name in selection["include"]:
            if name in selection["exclude"]:
                out.append(
                    error(
                        "E_TOOL_CONFLICT",
                        f"Tool '{name}' is both included and excluded.",
                        f"{path}.tools",
                        "Remove it from include or exclude.",
                    )
                )
            if name not in spec["tools"]:
                out.append(
                    error(
                        "E_TOOL_REF",
                        f"Tool '{name}' is referenced but not declared.",
                        f"{path}.tools",
                        "Declare it under tools.",
                    )
                )
    servers = spec["mcp_servers"]
    for name in sorted(spec["tools"]):
        tool, tpath = spec["tools"][name], f"tools.{name}"
        backings = [k for k in ("implementation", "mcp", "agent") if tool.get(k)]
        if not backings:
            out.append(
                error(
                    "E_TOOL_NO_BACKING",
                    f"Tool '{name}' has no implementation, mcp or agent.",
                    tpath,
                    "Set exactly one of implementation, mcp or agent.",
                )
            )
        elif len(backings) > 1:
            out.append(
                error(
                    "E_TOOL_MULTIPLE_BACKINGS",
                    f"Tool '{name}' sets {', '.join(backings)}.",
                    tpath,
                    "Set exactly one of implementation, mcp or agent.",
                )
            )
        mcp = tool.get("mcp")
        if mcp:
            if not mcp.get("server"):
                out.append(
                    error(
                        "E_MCP_TOOL_NO_SERVER",
                        f"MCP tool '{name}' does not name a server.",
                        f"{tpath}.mcp",
                        "Set mcp.server to a key of mcp_servers.",
                    )
                )
            elif not isinstance(mcp["server"], str) or mcp["server"] not in servers:
                out.append(
                    error(
                        "E_MCP_UNKNOWN_SERVER",
                        f"MCP server '{mcp['server']}' is not declared.",
                        f"{tpath}.mcp.server",
                        "Declare it under mcp_servers.",
                    )
                )
        if tool.get("agent"):
            if tool["agent"] not in spec["components"]["agents"]:
                out.append(
                    error(
                        "E_AGENT_TOOL_UNKNOWN_AGENT",
                        f"Agent component '{tool['agent']}' is referenced but not defined.",
                        f"{tpath}.agent",
                        "Add it under components.agents.",
                    )
                )
            if tool.get("parameters"):
                out.append(
                    warning(
                        "W_AGENT_TOOL_PARAMETERS_IGNORED",
                        f"Agent tool '{name}' ignores parameters; its input is a single 'input' string.",
                        f"{tpath}.parameters",
                        "Remove parameters from the agent-backed tool.",
                    )
                )
    required = {"stdio": "command", "http": "url", "sse": "sse_url"}
    for name in sorted(servers):
        server = servers[name]
        needed = required[server["transport"]]
        if not server.get(needed):
            out.append(
                error(
                    "E_MCP_MISSING_FIELD",
                    f"MCP server '{name}' ({server['transport']}) requires '{needed}'.",
                    f"mcp_servers.{name}.{needed}",
                    f"Set {needed}.",
                )
            )
        if server.get("verify") is False:
            out.append(
                warning(
                    "W_MCP_TLS_VERIFY_DISABLED",
                    f"MCP server '{name}' disables TLS verification.",
                    f"mcp_servers.{name}.verify",
                    "Remove verify: false or supply ca_bundle.",
                )
            )
    return out
