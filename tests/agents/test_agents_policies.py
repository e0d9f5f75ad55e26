"""Tool permissions, guardrails and memory policies of the native runtime (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.agents import guardrails
from kneo.agents.errors import GuardrailViolation
from kneo.agents.memory import apply_memory
from kneo.agents.permissions import check_tool_call, urls_in


def test_urls_are_found_at_any_depth() -> None:
    args = {"q": "see https://a.example.com/x and", "nested": [{"u": "docs.python.org/3"}], "n": 3}
    assert urls_in(args) == ["https://a.example.com/x", "http://docs.python.org/3"]


@pytest.mark.parametrize(
    ("arguments", "permissions", "denied"),
    [
        ({"url": "https://api.example.com/v1"}, {"allowed_domains": ["example.com"]}, False),
        ({"url": "https://example.com.evil.io/"}, {"allowed_domains": ["example.com"]}, True),
        ({"url": "https://x.bad.org"}, {"denied_domains": ["bad.org"]}, True),
        ({"url": "https://good.org"}, {"denied_domains": ["bad.org"]}, False),
        ({"url": "https://good.org"}, {"allow_network": False}, True),
        ({"text": "no links here"}, {"allow_network": False}, False),
        ({"command": "ls"}, {"allow_shell": False}, True),
        ({"command": "ls"}, {"allow_shell": None}, False),
        ({"path": "/etc/passwd"}, {"allow_filesystem_read": False}, True),
        ({"text": "./notes.txt"}, {"allow_filesystem_read": True, "allow_filesystem_write": False}, False),
    ],
)
def test_permission_checks(arguments: dict[str, Any], permissions: dict[str, Any], denied: bool) -> None:
    assert (check_tool_call("reader", arguments, permissions) is not None) is denied


def test_write_tools_need_filesystem_write() -> None:
    assert check_tool_call("write_file", {"path": "/tmp/x"}, {"allow_filesystem_write": False})
    assert check_tool_call("read_file", {"path": "/tmp/x"}, {"allow_filesystem_write": False}) is None
    assert check_tool_call("anything", {"url": "https://x.io"}, None) is None


def _apply(stage: str, items: list[dict[str, Any]], payload: str, fn: Any = None, agent: Any = None) -> Any:
    events: list[dict[str, Any]] = []
    result = guardrails.apply(stage, items, payload, events, fn or (lambda *_: True), agent or (lambda *_: "PASS"))
    return result, events


def test_keyword_warn_records_and_continues() -> None:
    item = {"id": "w", "type": "keyword", "action": "warn", "config": {"keywords": ["Foo"]}}
    result, events = _apply("output", [item], "some foo here")
    assert result == "some foo here"
    assert events[0]["guardrail_id"] == "w" and events[0]["metadata"]["action"] == "warn"


def test_regex_block_raises() -> None:
    item = {"id": "ssn", "type": "regex", "action": "block", "config": {"patterns": [r"\d{3}-\d{2}-\d{4}"]}}
    with pytest.raises(GuardrailViolation, match="ssn"):
        _apply("output", [item], "it is 123-45-6789")


def test_function_and_agent_guardrails() -> None:
    fn = {"id": "f", "type": "function", "action": "revise", "ref": "check"}
    result, _ = _apply("output", [fn], "bad", fn=lambda _ref, _p: {"passed": False, "revised_text": "good"})
    assert result == "good"
    agent = {"id": "a", "type": "agent", "action": "block", "ref": "reviewer"}
    with pytest.raises(GuardrailViolation):
        _apply("input", [agent], "x", agent=lambda _ref, _prompt: "FAIL: no")
    assert _apply("input", [agent], "x", agent=lambda _ref, _prompt: "pass")[0] == "x"


def test_revise_without_revised_text_raises() -> None:
    item = {"id": "r", "type": "keyword", "action": "revise", "config": {"keywords": ["x"]}}
    with pytest.raises(GuardrailViolation):
        _apply("output", [item], "x")


def _conversation() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
        {"role": "tool", "content": "t", "tool_call_id": "c"},
    ]


def test_sliding_window_keeps_system_and_tool_pairs() -> None:
    window = apply_memory({"policy": "sliding_window", "max_messages": 2}, _conversation(), lambda *_: "")
    assert [m["role"] for m in window] == ["system", "assistant", "tool"]


def test_summary_and_retrieval() -> None:
    summary = apply_memory({"policy": "summary", "summarizer": {"ref": "s"}}, _conversation(), lambda ref, text: "S")
    assert summary[1]["content"] == "Conversation summary:\nS"
    assert [m["role"] for m in summary[2:]] == ["user", "assistant", "tool"]
    found = apply_memory(
        {"policy": "retrieval", "retriever": {"ref": "r"}, "top_k": 2},
        _conversation(),
        lambda ref, query, top_k: f"{query}:{top_k}",
    )
    assert found[1]["content"] == "Relevant retrieved memory:\nu2:2"
    assert apply_memory({"policy": "full"}, _conversation(), lambda *_: "") == _conversation()
