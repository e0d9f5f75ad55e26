"""Input and output guardrails on offline (bridge) agents; a guardrail block is never absorbed."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.agents.errors import GuardrailViolation
from kneo.agents.executor import runs_inline
from kneo.agents.request import AgentRequest
from kneo.agents.runtime import run_agent
from kneo.specs import compile_document
from kneo.workflows import engine


def spec(guardrails: dict[str, Any]) -> dict[str, Any]:
    return {"version": "v1", "agent": {"name": "guarded", "guardrails": guardrails}}


def run(guardrails: dict[str, Any], text: str) -> Any:
    plan = compile_document(spec(guardrails), target="agent")
    return run_agent(AgentRequest(plan=plan, agent=plan["agents"]["__root__"], input_text=text, allowed_modules=()))


SECRET = {"id": "no-secrets", "type": "regex", "config": {"patterns": ["sk-[A-Za-z0-9]{16,}"]}}
SSN = {"id": "no-ssn", "type": "regex", "config": {"patterns": [r"\d{3}-\d{2}-\d{4}"]}}


def test_clean_input_passes_both_stages() -> None:
    outcome = run({"input": [SECRET], "output": [SSN]}, "hello")
    assert outcome.output_text == "Final answer: hello"


def test_input_stage_blocks_before_the_model() -> None:
    with pytest.raises(GuardrailViolation, match="no-secrets"):
        run({"input": [SECRET]}, "key sk-abcdefghijklmnopqrstu")


def test_output_stage_blocks_the_echoed_answer() -> None:
    with pytest.raises(GuardrailViolation, match="no-ssn"):
        run({"output": [SSN]}, "ssn 123-45-6789")


def test_warn_records_an_event_and_continues() -> None:
    outcome = run({"input": [{**SECRET, "action": "warn"}]}, "key sk-abcdefghijklmnopqrstu")
    assert outcome.output_text.startswith("Final answer:")
    assert [e["type"] for e in outcome.events].count("guardrail_triggered") == 1


def test_keyword_and_regex_guardrails_may_run_inline_but_callables_may_not() -> None:
    regex_plan = compile_document(spec({"input": [SECRET]}), target="agent")
    assert runs_inline(regex_plan, "agent", "__root__")
    function_item = {"id": "fn", "type": "function", "ref": "check"}
    function_plan = {"agents": {"a": {"name": "a", "guardrails": {"input": [function_item]}}}}
    assert not runs_inline(function_plan, "agent", "a")


def test_guardrail_block_is_not_retried_or_continued() -> None:
    plan = {"target": "workflow", "root_workflow": "__root__", "workflows": {}}
    unit = {"step_id": "s", "position": 0, "input_text": "x"}
    error = {"type": "GuardrailViolation", "message": "Guardrail 'g' failed"}
    decision = engine.step_failed(plan, {"mode": "frames"}, unit, error, attempt=1, max_attempts=3)
    assert decision.status == "failed" and decision.retry_delay is None
    assert decision.error == {"message": "Guardrail 'g' failed", "type": "GuardrailViolation"}


def test_workflow_stage_guardrails_check_every_step_output() -> None:
    from kneo.agents.executor import execute_unit
    from kneo.execution import ClaimedStep

    raw = {
        "version": "v1",
        "agent": {"name": "root", "guardrails": {"workflow": [{**SSN, "action": "redact"}]}},
        "workflow": {"type": "sequential", "steps": ["a"]},
        "components": {"agents": {"a": {"name": "a"}}},
    }
    plan = compile_document(raw)
    claimed = ClaimedStep("sr", "run", 1, 1, "a", "agent", "a", "ssn 123-45-6789", 30, plan, {})
    outcome = execute_unit(claimed, ())
    assert outcome.error is None
    assert outcome.output_text == "[redacted by tool result guardrail]"
    assert any(e["type"] == "guardrail_triggered" for e in outcome.events)
    blocked = {**raw, "agent": {"name": "root", "guardrails": {"workflow": [SSN]}}}
    failed = execute_unit(
        ClaimedStep("sr", "run", 1, 1, "a", "agent", "a", "123-45-6789", 30, compile_document(blocked), {}), ()
    )
    assert failed.error is not None and failed.error["type"] == "GuardrailViolation"
