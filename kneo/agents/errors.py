"""Errors of the agent runtimes; each becomes a failed step handled by the step's error policy."""

from __future__ import annotations


def time_limit_of(exc: BaseException) -> BaseException | None:
    """The step's time limit (Celery's ``SoftTimeLimitExceeded``) if it is ``exc`` or wrapped in it.

    The limit is raised asynchronously inside whatever the worker was doing (an SDK call, a tool);
    it must end the step, never be retried or handed to the model as a tool error.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ == "SoftTimeLimitExceeded":
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class AgentError(Exception):
    """An agent invocation failed."""


class RuntimeBindError(AgentError):
    """No runtime can be bound for the agent (mode or provider not supported)."""


class ProviderError(AgentError):
    """The model provider failed after its retries."""


class MaxIterationsExceeded(AgentError):
    """The tool loop used ``max_iterations`` model calls without a final answer."""


class TokenBudgetExceeded(AgentError):
    """``model.token_budget`` was used up."""


class GuardrailViolation(AgentError):
    """A guardrail check failed with a raising action (block, retry, escalate, human_review, revise)."""


class ToolError(AgentError):
    """A tool could not be resolved or called."""


class ToolNotAllowed(ToolError):
    """A tool implementation outside the operator's allowlist (KNEO_SERV_ALLOWED_MODULES)."""


class McpError(ToolError):
    """An MCP server could not be reached or answered with an error."""
