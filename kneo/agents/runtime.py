"""The one small runtime interface: an :class:`AgentRequest` in, a ``StepOutcome`` out.

``bridge`` is the deterministic offline runtime (the default); ``native`` runs the tool loop
against a model provider (OpenAI-compatible chat completions). ``fallback_mode: bridge`` is
honoured when a native runtime cannot be bound and provider secrets are not required.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kneo.agents.errors import RuntimeBindError
from kneo.config import AgentSettings, load_agent_settings
from kneo.execution import StepOutcome
from kneo.secrets import MissingSecretError

MAX_AGENT_DEPTH = 4


@functools.lru_cache(maxsize=1)
def agent_settings() -> AgentSettings:
    """This process's provider/MCP settings (read once; the process is restarted to change them)."""
    return load_agent_settings()


@dataclass(frozen=True)
class AgentRequest:
    """Everything a runtime needs to run one agent on one input."""

    plan: Mapping[str, Any]
    agent: Mapping[str, Any]
    input_text: str
    allowed_modules: Sequence[str]
    settings: AgentSettings = field(default_factory=AgentSettings)
    should_stop: Callable[[], bool] | None = None
    step_timeout_seconds: float | None = None
    depth: int = 0

    def stopped(self) -> bool:
        return self.should_stop is not None and self.should_stop()

    def for_agent(self, agent: Mapping[str, Any], input_text: str) -> AgentRequest:
        """A request for a nested agent (agent-as-tool, agent guardrail, memory summarizer)."""
        if self.depth + 1 >= MAX_AGENT_DEPTH:
            raise RuntimeBindError(f"Agent nesting deeper than {MAX_AGENT_DEPTH} levels at agent {agent['name']}.")
        return replace(self, agent=agent, input_text=input_text, depth=self.depth + 1)


class AgentRuntime(Protocol):
    def __call__(self, request: AgentRequest) -> StepOutcome: ...


def runtime_mode(agent: Mapping[str, Any]) -> str:
    return (agent.get("runtime") or {}).get("preferred_mode") or "bridge"


def _runtimes() -> dict[str, AgentRuntime]:
    from kneo.agents.bridge import run_bridge
    from kneo.agents.native import run_native

    return {"bridge": run_bridge, "native": run_native}


RUNTIME_NAMES = ("bridge", "native")


def run_agent(request: AgentRequest) -> StepOutcome:
    """Bind the agent's runtime (preferred, then fallback) and run it."""
    runtimes = _runtimes()
    runtime = request.agent.get("runtime") or {}
    mode = runtime_mode(request.agent)
    bind = runtimes.get(mode)
    if bind is None:
        fallback = runtime.get("fallback_mode")
        if fallback in runtimes and fallback != mode:
            return runtimes[fallback](request)
        raise RuntimeBindError(
            f"Unable to bind runtime for agent {request.agent['name']}: preferred_mode={mode}. "
            "Use preferred_mode=bridge or native."
        )
    try:
        return bind(request)
    except (RuntimeBindError, MissingSecretError):
        fallback = runtime.get("fallback_mode")
        if fallback == "bridge" and mode != "bridge" and not request.settings.require_provider_secrets:
            return runtimes["bridge"](request)
        raise
