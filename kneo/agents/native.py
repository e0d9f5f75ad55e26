"""The native runtime: the tool loop against a model provider (strategies simple, react, plan-act).

* ``simple``: the model may call tools once; their results come back and the next call must answer.
* ``react``: reason → act → observe until the model answers without tool calls.
* ``plan-act``: a planning call without tools, then the react loop with the plan in context.

At most ``max_iterations`` (default 10) model calls per invocation; ``should_stop()`` (the run
was cancelled) is checked before every model call and every tool call. Each model call is a
``model_called`` trace event with its token usage, each tool call a ``tool_called`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kneo.agents import guardrails
from kneo.agents.errors import MaxIterationsExceeded, TokenBudgetExceeded
from kneo.agents.memory import apply_memory
from kneo.agents.provider import ModelProvider, ModelReply, build_provider, parse_arguments
from kneo.agents.request import AgentRequest, RunAgent
from kneo.agents.tools import Components, Toolbox
from kneo.execution import StepOutcome
from kneo.redaction import redact

DEFAULT_MAX_ITERATIONS = 10
REACT_HINT = (
    "Work step by step: think about what you need, call a tool when it helps, observe its result, "
    "and reply without calling tools once you have the final answer."
)
PLAN_PROMPT = "Before acting, write a short numbered plan for this task. Do not call any tool yet."
ACT_PROMPT = "Now carry out the plan, using the tools as needed, and give the final answer."


class Stopped(Exception):
    """The run stopped (cancelled) between model and tool calls."""


def message(role: str, content: str | None, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A transcript message; ``metadata.tool_calls`` lists the tool calls it made (contract §8.1)."""
    extra.setdefault("tool_calls", [])
    return {
        "role": role,
        "content": content,
        "name": name,
        "tool_call_id": extra.pop("tool_call_id", None),
        "metadata": extra,
    }


def system_prompt(plan: Mapping[str, Any], agent: Mapping[str, Any]) -> str:
    parts = [agent.get("system_prompt") or ""]
    skills = [plan.get("skills", {}).get(name) for name in agent.get("skills") or []]
    loaded = [s for s in skills if s and s.get("instructions")]
    if loaded:
        parts.append("# Skills\n" + "\n\n".join(f"Skill: {s['name']}\n{s['instructions']}" for s in loaded))
    if (agent.get("strategy") or "simple") != "simple":
        parts.append(REACT_HINT)
    return "\n\n".join(p for p in parts if p)


class ToolLoop:
    def __init__(self, request: AgentRequest, provider: ModelProvider, run_nested: RunAgent) -> None:
        self.request = request
        self.agent = request.agent
        self.provider = provider
        self.events: list[dict[str, Any]] = []
        self.transcript: list[dict[str, Any]] = []
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        self.calls = 0
        self.plan: str | None = None
        self.common = {
            "agent_name": self.agent["name"],
            "runtime_mode": "native",
            "model_provider": provider.provider,
            "model_name": provider.model,
        }
        self.components = Components(request, run_nested, self.events)
        self.toolbox = Toolbox(request, self.components, self.events)
        self.last_text = ""

    def _stage(self, stage: str, text: str) -> str:
        items = (self.agent.get("guardrails") or {}).get(stage) or []
        if not items:
            return text
        return guardrails.apply(
            stage, items, text, self.events, self.components.call, self.components.agent_text, **self.common
        )

    def _check_stop(self) -> None:
        if self.request.stopped():
            raise Stopped

    def _model(self, chat: list[dict[str, Any]], phase: str, tool_choice: str | None) -> ModelReply:
        self._check_stop()
        memory = self.agent.get("memory")
        sent = apply_memory(memory, chat, self.components.text) if memory else chat
        tools = self.toolbox.schemas() if tool_choice != "off" else None
        reply = self.provider.complete(sent, tools, self.request.should_stop, tool_choice if tools else None)
        self.calls += 1
        for key in self.usage:
            self.usage[key] += reply.usage.get(key, 0)
        self.events.append(
            {
                "type": "model_called",
                **self.common,
                "input_text": str(sent[-1].get("content") or "") if sent else None,
                "output_text": reply.content,
                "memory_policy": (memory or {}).get("policy"),
                "metadata": {
                    "phase": phase,
                    "call": self.calls,
                    "usage": reply.usage,
                    "finish_reason": reply.finish_reason,
                    "attempts": reply.attempts,
                    "duration_ms": reply.duration_ms,
                    "message_count": len(sent),
                    "tool_calls": [c.name for c in reply.tool_calls],
                },
            }
        )
        budget = (self.agent.get("model") or {}).get("token_budget")
        if budget and self.usage["total_tokens"] > int(budget):
            raise TokenBudgetExceeded(f"Token budget of {budget} exceeded ({self.usage['total_tokens']} used).")
        if reply.content:
            self.last_text = reply.content
        return reply

    def _act(self, chat: list[dict[str, Any]]) -> str:
        strategy = self.agent.get("strategy") or "simple"
        limit = int(self.agent.get("max_iterations") or DEFAULT_MAX_ITERATIONS)
        offered = bool(self.toolbox.tools)
        for rounds in range(limit):
            may_call = offered and (strategy != "simple" or rounds == 0)
            reply = self._model(chat, "act", None if may_call else ("none" if offered else "off"))
            if not reply.tool_calls or not may_call:
                return reply.content or ""
            calls = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.tool_calls
            ]
            chat.append({"role": "assistant", "content": reply.content, "tool_calls": calls})
            self.transcript.append(message("assistant", reply.content, self.agent["name"], tool_calls=calls))
            for call in reply.tool_calls:
                self._check_stop()
                try:
                    arguments = parse_arguments(call.arguments)
                except ValueError as exc:
                    output = f"Error: {exc}"
                    self.events.append(
                        {
                            "type": "tool_called",
                            **self.common,
                            "tool_name": call.name,
                            "metadata": {"error": "invalid_arguments"},
                            "output_text": output,
                        }
                    )
                else:
                    output = self.toolbox.call(call.name, arguments, self.common)
                chat.append({"role": "tool", "tool_call_id": call.id, "content": output})
                self.transcript.append(message("tool", output, call.name, tool_call_id=call.id))
        raise MaxIterationsExceeded(f"Agent {self.agent['name']} used {limit} model calls without a final answer.")

    def run(self) -> StepOutcome:
        request = self.request
        self.events.append(
            {
                "type": "run_started",
                **self.common,
                "input_text": request.input_text,
                "metadata": {"message_count": 1, "strategy": self.agent.get("strategy") or "simple"},
            }
        )
        try:
            text = self._stage("input", request.input_text)
            self.transcript.append(message("user", text))
            prompt = system_prompt(request.plan, self.agent)
            chat: list[dict[str, Any]] = [{"role": "system", "content": prompt}] if prompt else []
            chat.append({"role": "user", "content": text})
            if (self.agent.get("strategy") or "simple") == "plan-act":
                planned = self._model([*chat, {"role": "user", "content": PLAN_PROMPT}], "plan", "off")
                self.plan = planned.content or ""
                chat += [
                    {"role": "assistant", "content": planned.content or ""},
                    {"role": "user", "content": ACT_PROMPT},
                ]
            answer = self._stage("output", self._act(chat))
        except Stopped:
            self.events.append(
                {
                    "type": "run_stopped",
                    **self.common,
                    "output_text": self.last_text,
                    "metadata": self._summary(reason="cancelled"),
                }
            )
            return StepOutcome(output_text=self.last_text, events=self.events, messages=self.transcript)
        except Exception as exc:
            error = redact({"message": str(exc), "type": type(exc).__name__})
            self.events.append(
                {
                    "type": "run_failed",
                    **self.common,
                    "error": error["message"],
                    "metadata": self._summary(error_type=error["type"]),
                }
            )
            return StepOutcome(error=error, events=self.events)
        self.transcript.append(message("assistant", answer, self.agent["name"]))
        self.events.append({"type": "run_completed", **self.common, "output_text": answer, "metadata": self._summary()})
        return StepOutcome(output_text=answer, events=self.events, messages=self.transcript)

    def _summary(self, **extra: Any) -> dict[str, Any]:
        tool_calls = sum(1 for e in self.events if e["type"] == "tool_called")
        return {
            "message_count": len(self.transcript),
            "iterations": self.calls,
            "usage": dict(self.usage),
            "tool_call_count": tool_calls,
            **({"plan": self.plan} if self.plan is not None else {}),
            **extra,
        }


def run_native(request: AgentRequest, run_nested: RunAgent) -> StepOutcome:
    """Bind the provider (binding errors propagate so ``fallback_mode`` can apply), then run the loop."""
    provider = build_provider(request.agent, request.settings, request.step_timeout_seconds)
    return ToolLoop(request, provider, run_nested).run()
