"""Guardrails (spec-format §8): input, output, tool and workflow stages, for every agent runtime.

``keyword`` and ``regex`` checks fail when a keyword/pattern matches (patterns run on the
linear-time RE2 engine, :mod:`kneo.specs.patterns`; text too long to scan fails the check); ``function`` calls an
allowlisted callable (bool, mapping or object result); ``agent`` runs the referenced agent on a
review prompt and passes when its answer starts with ``PASS``. ``warn`` records and continues,
``redact`` (tool stage) replaces the tool output, ``revise`` replaces the text when the check
produced revised text, every other action raises :class:`GuardrailViolation` (the step fails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kneo.agents.errors import GuardrailViolation
from kneo.specs import patterns

TOOL_REDACTION = "[redacted by tool result guardrail]"
REVIEW_PROMPT = (
    "Review the following content against your policy. Answer PASS if it is acceptable, "
    "otherwise answer FAIL followed by the reason.\n\n{payload}"
)


@dataclass
class Check:
    passed: bool
    message: str | None = None
    revised: str | None = None


FunctionRunner = Callable[[str, str], Any]
AgentRunner = Callable[[str, str], str]


def _interpret(result: Any) -> Check:
    if isinstance(result, bool) or result is None:
        return Check(bool(result) if result is not None else True)
    if isinstance(result, Mapping):
        passed = next((result[k] for k in ("passed", "allowed", "ok", "valid") if k in result), True)
        revised = result.get("revised_text") or result.get("revised")
        return Check(bool(passed), result.get("message") or result.get("reason"), revised)
    passed = next((getattr(result, k) for k in ("passed", "allowed", "ok", "valid") if hasattr(result, k)), True)
    return Check(bool(passed), getattr(result, "message", None), getattr(result, "revised_text", None))


def evaluate(item: Mapping[str, Any], payload: str, run_function: FunctionRunner, run_agent: AgentRunner) -> Check:
    config = item.get("config") or {}
    kind = item["type"]
    if kind == "keyword":
        lowered = payload.lower()
        hits = [k for k in config.get("keywords") or [] if str(k).lower() in lowered]
        return Check(not hits, f"matched keyword {hits[0]!r}" if hits else None)
    if kind == "regex":
        try:
            hits = [p for p in config.get("patterns") or [] if patterns.search(str(p), payload)]
        except patterns.PatternError as exc:
            return Check(False, str(exc))
        return Check(not hits, "matched a forbidden pattern" if hits else None)
    if kind == "function":
        return _interpret(run_function(str(item.get("ref")), payload))
    if kind == "agent":
        answer = run_agent(str(item.get("ref")), REVIEW_PROMPT.format(payload=payload))
        return Check(answer.strip().upper().startswith("PASS"), answer.strip()[:200])
    raise GuardrailViolation(f"Unsupported guardrail type: {kind}")


def apply(
    stage: str,
    items: Sequence[Mapping[str, Any]],
    payload: str,
    events: list[dict[str, Any]],
    run_function: FunctionRunner,
    run_agent: AgentRunner,
    **event_fields: Any,
) -> str:
    """Run the stage's checks on ``payload``; returns the (possibly replaced) text."""
    for item in items:
        if (item.get("mode") or "middleware") not in ("middleware", "tool", "runtime"):
            continue
        check = evaluate(item, payload, run_function, run_agent)
        if check.passed:
            continue
        action = item.get("action") or "block"
        events.append(
            {
                "type": "guardrail_triggered",
                **event_fields,
                "guardrail_id": item["id"],
                "metadata": {"stage": stage, "action": action, "guardrail_type": item["type"], "reason": check.message},
            }
        )
        if action == "warn":
            continue
        if action == "redact" and stage in ("tool", "workflow"):
            payload = TOOL_REDACTION
            continue
        if action == "revise" and check.revised is not None and stage != "input":
            payload = str(check.revised)
            continue
        detail = f": {check.message}" if check.message else ""
        raise GuardrailViolation(f"Guardrail '{item['id']}' ({stage} stage, action {action}) failed{detail}")
    return payload
