"""Memory policies (spec-format §9) applied to the conversation before each model call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Messages = list[dict[str, Any]]
Summarize = Callable[..., str]


def _text(messages: Messages) -> str:
    return "\n".join(f"{m['role']}: {m.get('content') or ''}" for m in messages if m.get("content"))


def _complete_window(messages: Messages, keep: int) -> Messages:
    """The last ``keep`` messages, widened so a tool result never loses the assistant call it answers."""
    if keep <= 0:
        return []
    start = max(len(messages) - keep, 0)
    while start > 0 and messages[start].get("role") == "tool":
        start -= 1
    return messages[start:]


def apply_memory(policy: Mapping[str, Any] | None, messages: Messages, call_ref: Summarize) -> Messages:
    """The message list to send; ``call_ref(ref, text)`` runs a summarizer/retriever component."""
    if not policy or policy.get("policy") in (None, "full"):
        return messages
    name = policy["policy"]
    system = [m for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    if name == "sliding_window":
        limit = int(policy.get("max_messages", 20))
        if policy.get("preserve_system_messages", True):
            return system[:limit] + _complete_window(rest, limit - len(system)) if limit > 0 else system
        return _complete_window(messages, limit)
    if name == "summary":
        user_at = [i for i, m in enumerate(rest) if m.get("role") == "user"]
        split = user_at[-1] if user_at else len(rest)
        if split == 0:
            return messages
        ref = str((policy.get("summarizer") or {}).get("ref"))
        summary = call_ref(ref, _text(rest[:split]))
        return [*system, {"role": "system", "content": f"Conversation summary:\n{summary}"}, *rest[split:]]
    if name == "retrieval":
        ref = str((policy.get("retriever") or {}).get("ref"))
        users = [m for m in rest if m.get("role") == "user"]
        query = str(users[-1].get("content") or "") if users else ""
        found = call_ref(ref, query, top_k=int(policy.get("top_k", 5)))
        return [*system, {"role": "system", "content": f"Relevant retrieved memory:\n{found}"}, *rest]
    raise ValueError(f"Unknown memory policy: {name}")
