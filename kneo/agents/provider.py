"""Model providers behind one small interface; the OpenAI-compatible one uses the official ``openai`` SDK.

Endpoint: the deployment's own (the SDK's standard ``OPENAI_BASE_URL``, else the provider
default) with its key ``OPENAI_API_KEY``, or per agent ``model.extra.base_url``, reached only when
it is on the operator's outbound allow-list. The deployment's key is never sent to a spec-chosen
endpoint: there, only the variable ``model.extra.api_key_env`` names (on the operator's secret
allow-list) is sent, else the placeholder ``no-key``.
Each attempt is bounded by ``model.timeout_seconds`` (else ``KNEO_SERV_PROVIDER_TIMEOUT_SECONDS``,
else the step's timeout); 408/409/429/5xx, timeouts and connection errors are retried
``KNEO_SERV_PROVIDER_RETRIES`` times with linear back-off (``Retry-After`` honoured, capped).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from kneo.agents.errors import ProviderError, RuntimeBindError, time_limit_of
from kneo.config import AgentSettings
from kneo.redaction import register_secret_env
from kneo.sandbox import check_secret_name, check_url
from kneo.secrets import provider_env_var, require_secret

OPENAI_PROVIDERS = frozenset({"openai", "openai-agents", "default"})
DEFAULT_MODEL = "gpt-4o"
RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER_SECONDS = 30.0
DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # what a spec-chosen endpoint gets when the spec names no key variable


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class ModelReply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    attempts: int = 1
    duration_ms: float = 0.0


class ModelProvider(Protocol):
    provider: str
    model: str

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
        should_stop: Callable[[], bool] | None = None,
        tool_choice: str | None = None,
    ) -> ModelReply: ...


def provider_name(agent: Mapping[str, Any]) -> str:
    runtime = agent.get("runtime") or {}
    model = agent.get("model") or {}
    return str(runtime.get("native_provider") or model.get("provider") or "openai")


_clients: dict[tuple[str, str, float], openai.OpenAI] = {}
_clients_lock = threading.Lock()


def _client(base_url: str, api_key: str, timeout: float) -> openai.OpenAI:
    key = (base_url, api_key, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # max_retries=0: retries are ours (counted, traced, cancellable). A redirect is never
            # followed: it could lead a vetted endpoint's request to a host nobody allowed.
            client = openai.OpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=0,
                http_client=openai.DefaultHttpxClient(follow_redirects=False, timeout=timeout),
            )
            _clients[key] = client
        return client


class OpenAICompatibleProvider:
    """Chat completions with tool calls against OpenAI or any compatible server (Ollama, vLLM, …)."""

    def __init__(self, agent: Mapping[str, Any], settings: AgentSettings, step_timeout: float | None) -> None:
        self.provider = provider_name(agent)
        if self.provider not in OPENAI_PROVIDERS:
            raise RuntimeBindError(f"Unsupported native provider: {self.provider}")
        model = agent.get("model") or {}
        extra = model.get("extra") or {}
        self.model = str(model.get("name") or DEFAULT_MODEL)
        self.base_url, self.api_key = endpoint(self.provider, extra, settings)
        self.timeout = float(model.get("timeout_seconds") or settings.provider_timeout_seconds or step_timeout or 600.0)
        self.retries = int(extra.get("max_retries", settings.provider_retries))
        self.backoff = float(extra.get("retry_backoff_seconds", settings.provider_retry_backoff_seconds))
        self.options = {k: model[k] for k in ("temperature", "max_tokens") if model.get(k) is not None}

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
        should_stop: Callable[[], bool] | None = None,
        tool_choice: str | None = None,
    ) -> ModelReply:
        client = _client(self.base_url, self.api_key, self.timeout)
        kwargs: dict[str, Any] = {"model": self.model, "messages": list(messages), **self.options}
        if tools:
            kwargs["tools"] = list(tools)
            if tool_choice:
                kwargs["tool_choice"] = tool_choice
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = client.chat.completions.create(**kwargs)
                break
            except openai.APIError as exc:
                interrupt = time_limit_of(exc)
                if interrupt is not None:
                    raise interrupt from None
                if attempt > self.retries or not _retryable(exc) or (should_stop is not None and should_stop()):
                    raise ProviderError(_describe(exc, attempt)) from None
                time.sleep(_delay(exc, self.backoff, attempt))
        return _reply(response, attempt, (time.perf_counter() - started) * 1000)


def deployment_base_url() -> str:
    """The deployment's own endpoint: ``OPENAI_BASE_URL``, else the provider default."""
    return (os.environ.get("OPENAI_BASE_URL") or "").strip() or DEFAULT_BASE_URL


def _same_endpoint(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def endpoint(provider: str, extra: Mapping[str, Any], settings: AgentSettings) -> tuple[str, str]:
    """``(base_url, api_key)`` for an agent; a spec-chosen URL is vetted and never gets the deployment's key."""
    own = deployment_base_url()
    base_url = str(extra.get("base_url") or "").strip() or own
    chosen = not _same_endpoint(base_url, own)
    if chosen:
        check_url(base_url, settings.sandbox.outbound, "model.extra.base_url")
    own_key = provider_env_var("openai")
    named = str(extra.get("api_key_env") or "")
    if named and (chosen or named != own_key):
        check_secret_name(named, settings.sandbox.secrets, "model.extra.api_key_env")
    elif chosen:
        return base_url, NO_KEY
    env_var = named or own_key
    api_key = require_secret(f"provider:{provider}", env_var)
    register_secret_env((env_var,))
    return base_url, api_key


def _retryable(exc: openai.APIError) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # includes APITimeoutError


def _delay(exc: openai.APIError, backoff: float, attempt: int) -> float:
    if isinstance(exc, openai.APIStatusError):
        raw = exc.response.headers.get("retry-after")
        try:
            if raw is not None:
                return min(max(float(raw), 0.0), MAX_RETRY_AFTER_SECONDS)
        except ValueError:
            pass
    return backoff * attempt


def _describe(exc: openai.APIError, attempts: int) -> str:
    kind = type(exc).__name__
    status = f" {exc.status_code}" if isinstance(exc, openai.APIStatusError) else ""
    return f"Model provider call failed after {attempts} attempt(s): {kind}{status}: {exc}"


def _reply(response: Any, attempts: int, duration_ms: float) -> ModelReply:
    if not getattr(response, "choices", None):
        raise ProviderError("Model provider returned no choices.")
    choice = response.choices[0]
    message = choice.message
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
        for c in (message.tool_calls or [])
        if getattr(c, "function", None) is not None
    ]
    usage = response.usage
    counts = (
        {
            "prompt_tokens": int(usage.prompt_tokens or 0),
            "completion_tokens": int(usage.completion_tokens or 0),
            "total_tokens": int(usage.total_tokens or 0),
        }
        if usage is not None
        else {}
    )
    return ModelReply(message.content, calls, counts, choice.finish_reason, attempts, round(duration_ms, 3))


def parse_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments as a mapping (a model may send invalid JSON: it is reported, not fatal)."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON arguments: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


def build_provider(
    agent: Mapping[str, Any], settings: AgentSettings, step_timeout: float | None
) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(agent, settings, step_timeout)
