"""Truth table of the edge-condition language."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.specs import SpecError, evaluate_condition

META = {"score": 3, "label": "ok"}
VARS = {"region": "eu"}
TEXT = "Review says APPROVED with notes"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, True),
        ({"type": "always"}, True),
        ({"type": "never"}, False),
        ({"type": "output_contains", "value": "approved"}, True),
        ({"type": "output_contains", "value": "approved", "case_sensitive": True}, False),
        ({"type": "output_contains", "value": "APPROVED", "case_sensitive": True}, True),
        ({"type": "output_contains", "value": "REJECTED"}, False),
        ({"type": "output_equals", "value": TEXT.lower()}, True),
        ({"type": "output_equals", "value": TEXT.lower(), "case_sensitive": True}, False),
        ({"type": "output_equals", "value": "Review"}, False),
        ({"type": "metadata_equals", "key": "score", "value": 3}, True),
        ({"type": "metadata_equals", "key": "score", "value": "3"}, False),
        ({"type": "metadata_equals", "key": "missing", "value": None}, False),
        ({"type": "variable_equals", "key": "region", "value": "eu"}, True),
        ({"type": "variable_equals", "key": "region", "value": "us"}, False),
        ({"type": "status_is", "value": "completed"}, True),
        ({"type": "status_is", "value": "failed"}, False),
        (
            {
                "type": "all_of",
                "conditions": [{"type": "always"}, {"type": "output_contains", "value": "notes"}],
            },
            True,
        ),
        ({"type": "all_of", "conditions": [{"type": "always"}, {"type": "never"}]}, False),
        (
            {
                "type": "any_of",
                "conditions": [{"type": "never"}, {"type": "status_is", "value": "completed"}],
            },
            True,
        ),
        ({"type": "any_of", "conditions": [{"type": "never"}, {"type": "never"}]}, False),
        ({"type": "not", "condition": {"type": "never"}}, True),
        ({"type": "not", "condition": {"type": "not", "condition": {"type": "never"}}}, False),
    ],
)
def test_truth_table(condition: dict[str, Any] | None, expected: bool) -> None:
    assert evaluate_condition(condition, TEXT, META, VARS, "completed") is expected


def test_rejection_idiom() -> None:
    cond = {"type": "output_contains", "value": "Rejected by human reviewer"}
    assert evaluate_condition(cond, "Rejected by human reviewer: nope")
    assert not evaluate_condition(cond, "approved text")


def test_numbers_are_stringified_for_text_matches() -> None:
    assert evaluate_condition({"type": "output_contains", "value": 42}, "answer 42")


@pytest.mark.parametrize(
    "condition",
    [{"type": "bogus"}, {"type": "not"}, {"type": "output_equals"}, "always", {"type": "metadata_equals"}],
)
def test_malformed_conditions_raise_spec_error(condition: Any) -> None:
    with pytest.raises(SpecError) as info:
        evaluate_condition(condition, "x")
    assert info.value.code == "condition_invalid"
