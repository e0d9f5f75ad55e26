"""The tools an agent is offered: allowlisted Python callables, MCP tools and agents-as-tools.

An MCP server is vetted against the operator's allow-lists (command, origin, secret names) when
the agent binds its tools, before anything is spawned or connected. Each call is checked against
the agent's ``tool_permissions`` and its tool-stage guardrails (on the arguments before the call
and on the result after it) and recorded as a ``tool_called`` trace event. Components named by
guardrails and memory policies run through the same resolver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kneo.agents import guardrails
from kneo.agents.callables import resolve_callable
from kneo.agents.errors import ToolError, time_limit_of
from kneo.agents.mcp_pool import get_pool
from kneo.agents.mcp_transport import DEFAULT_TIMEOUT_SECONDS
from kneo.agents.permissions import check_tool_call
from kneo.agents.request import AgentRequest, RunAgent
from kneo.redaction import scrub_secrets

AGENT_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The request for the agent."}},
    "required": ["input"],
}
EMPTY_SCHEMA = {"type": "object", "properties": {}}
RunNested = RunAgent


def stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


class Components:
    """Runs components referenced by name (guardrail and memory refs): agents or allowlisted callables."""

    def __init__(self, request: AgentRequest, run_nested: RunNested, events: list[dict[str, Any]]) -> None:
        self.request, self.run_nested, self.events = request, run_nested, events

    def agent_text(self, ref: str, text: str) -> str:
        agent = self.request.plan.get("agents", {}).get(ref)
        if agent is None:
            raise ToolError(f"Unknown agent component: {ref}")
        outcome = self.run_nested(self.request.for_agent(agent, text))
        self.events.extend(outcome.events)
        if outcome.error is not None:
            raise ToolError(f"Agent '{ref}' failed: {outcome.error.get('message')}")
        return outcome.output_text or ""

    def call(self, ref: str, payload: str, **kwargs: Any) -> Any:
        plan = self.request.plan
        if ref in plan.get("agents", {}):
            return self.agent_text(ref, payload)
        entry = plan.get("functions", {}).get(ref) or plan.get("tools", {}).get(ref) or {}
        if not entry.get("implementation"):
            raise ToolError(f"Component '{ref}' is not an agent, function or Python tool.")
        return resolve_callable(entry["implementation"], self.request.allowed_modules)(payload, **kwargs)

    def text(self, ref: str, payload: str, **kwargs: Any) -> str:
        return stringify(self.call(ref, payload, **kwargs))


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    backing: str  # python | mcp | agent
    handler: Callable[[dict[str, Any]], Any] | None = None
    mcp: Mapping[str, Any] | None = None
    agent_ref: str | None = None


class Toolbox:
    def __init__(self, request: AgentRequest, components: Components, events: list[dict[str, Any]]) -> None:
        self.request, self.components, self.events = request, components, events
        self.mcp_timeout = request.settings.mcp_timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        self.tools = {name: self._bind(name) for name in request.agent.get("tools") or []}

    def _bind(self, name: str) -> Tool:
        spec = (self.request.plan.get("tools") or {}).get(name)
        if spec is None:
            raise ToolError(f"Unknown tool: {name}")
        description = spec.get("description") or name
        parameters = dict(spec.get("parameters") or {}) or dict(EMPTY_SCHEMA)
        if spec.get("implementation"):
            handler = resolve_callable(spec["implementation"], self.request.allowed_modules)
            return Tool(name, description, parameters, "python", handler=handler)
        if spec.get("agent"):
            if spec["agent"] not in self.request.plan.get("agents", {}):
                raise ToolError(f"Tool '{name}' names an unknown agent: {spec['agent']}")
            return Tool(name, description, dict(AGENT_TOOL_SCHEMA), "agent", agent_ref=spec["agent"])
        if spec.get("mcp"):
            ref = spec["mcp"]
            server = (self.request.plan.get("mcp_servers") or {}).get(ref.get("server"))
            if server is None:
                raise ToolError(f"Tool '{name}' names an unknown MCP server: {ref.get('server')}")
            self.request.settings.sandbox.check_mcp_server(ref["server"], server)
            mcp = {"server": ref["server"], "name": ref.get("name") or name, "config": server}
            if not spec.get("parameters"):  # import the remote tool's schema
                remote = get_pool().list_tools(ref["server"], server, self.mcp_timeout).get(mcp["name"])
                if remote is None:
                    raise ToolError(f"MCP server '{ref['server']}' has no tool '{mcp['name']}'.")
                parameters = dict(remote.inputSchema or EMPTY_SCHEMA)
            return Tool(name, description, parameters, "mcp", mcp=mcp)
        raise ToolError(f"Tool '{name}' has no implementation, mcp or agent.")

    def schemas(self) -> list[dict[str, Any]]:
        return [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in self.tools.values()
        ]

    def call(self, name: str, arguments: dict[str, Any], common: Mapping[str, Any]) -> str:
        """Run one tool call (never raises for a tool's own failure: the model sees the error)."""
        started = time.perf_counter()
        tool = self.tools.get(name)
        meta: dict[str, Any] = {"arguments": arguments, "backing": tool.backing if tool else None}
        stage = list((self.request.agent.get("guardrails") or {}).get("tool") or [])
        fields = {**common, "tool_name": name}
        if tool is None:
            output, meta["error"] = f"Error: unknown tool '{name}'.", "unknown_tool"
        elif denied := check_tool_call(name, arguments, self.request.agent.get("tool_permissions")):
            output, meta["denied"] = f"Tool call denied: {denied}.", denied
        elif (checked := self._guard(stage, json.dumps(arguments, default=str), fields)) == guardrails.TOOL_REDACTION:
            output, meta["denied"] = checked, "tool guardrail"
        else:
            try:
                output, is_error = self._invoke(tool, arguments)
            except ToolError as exc:
                output, is_error = f"Error: {exc}", True
            except Exception as exc:
                if (limit := time_limit_of(exc)) is not None:
                    raise limit from None
                output, is_error = f"Error: {type(exc).__name__}: {exc}", True
            if is_error:
                meta["is_error"] = True
            # A configured secret a tool returns never reaches the model (nor anything stored).
            output = self._guard(stage, scrub_secrets(output), fields)
        meta["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.events.append({"type": "tool_called", **fields, "metadata": meta, "output_text": output})
        return output

    def _guard(self, items: list[Mapping[str, Any]], payload: str, fields: Mapping[str, Any]) -> str:
        if not items:
            return payload
        return guardrails.apply(
            "tool", items, payload, self.events, self.components.call, self.components.agent_text, **fields
        )

    def _invoke(self, tool: Tool, arguments: dict[str, Any]) -> tuple[str, bool]:
        if tool.backing == "python":
            assert tool.handler is not None
            return stringify(tool.handler(arguments)), False
        if tool.backing == "agent":
            assert tool.agent_ref is not None
            return self.components.agent_text(tool.agent_ref, str(arguments.get("input", ""))), False
        assert tool.mcp is not None
        settings = self.request.settings
        result = get_pool().call_tool(
            tool.mcp["server"],
            tool.mcp["config"],
            tool.mcp["name"],
            arguments,
            timeout=self.mcp_timeout,
            retries=settings.mcp_retries,
            backoff=settings.mcp_retry_backoff_seconds,
        )
        return result.text, result.is_error
