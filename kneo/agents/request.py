"""What an agent runtime takes and what it is: an :class:`AgentRequest` in, a ``StepOutcome`` out.

Runtimes (``bridge``, ``native``) and the tools they call import this module, never
``kneo.agents.runtime``, which binds the runtimes; nested agents reach it through ``run_nested``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kneo.agents.errors import RuntimeBindError
from kneo.config import AgentSettings
from kneo.execution import StepOutcome

MAX_AGENT_DEPTH = 4


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


RunAgent = Callable[[AgentRequest], StepOutcome]
"""Runs an agent request through whichever runtime it binds (``kneo.agents.runtime.run_agent``)."""


class AgentRuntime(Protocol):
    """A runtime: runs ``request``; nested agents (agent tools, agent guardrails, memory
    summarisers) go through ``run_nested``."""

    def __call__(self, request: AgentRequest, run_nested: RunAgent) -> StepOutcome: ...
