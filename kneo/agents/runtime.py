"""Binding an agent to its runtime: an :class:`AgentRequest` in, a ``StepOutcome`` out.

``bridge`` is the deterministic offline runtime (the default); ``native`` runs the tool loop
against a model provider (OpenAI-compatible chat completions). ``fallback_mode: bridge`` is
honoured when a native runtime cannot be bound and provider secrets are not required.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from kneo.agents.bridge import run_bridge
from kneo.agents.errors import RuntimeBindError
from kneo.agents.native import run_native
from kneo.agents.request import AgentRequest, AgentRuntime
from kneo.config import AgentSettings, load_agent_settings
from kneo.execution import StepOutcome
from kneo.secrets import MissingSecretError


@functools.lru_cache(maxsize=1)
def agent_settings() -> AgentSettings:
    """This process's provider/MCP settings (read once; the process is restarted to change them)."""
    return load_agent_settings()


def runtime_mode(agent: Mapping[str, Any]) -> str:
    return (agent.get("runtime") or {}).get("preferred_mode") or "bridge"


def _runtimes() -> dict[str, AgentRuntime]:
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
            return runtimes[fallback](request, run_agent)
        raise RuntimeBindError(
            f"Unable to bind runtime for agent {request.agent['name']}: preferred_mode={mode}. "
            "Use preferred_mode=bridge or native."
        )
    try:
        return bind(request, run_agent)
    except (RuntimeBindError, MissingSecretError):
        fallback = runtime.get("fallback_mode")
        if fallback == "bridge" and mode != "bridge" and not request.settings.require_provider_secrets:
            return runtimes["bridge"](request, run_agent)
        raise
