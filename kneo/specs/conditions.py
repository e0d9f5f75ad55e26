"""The graph edge-condition language: validation diagnostics and a pure evaluator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import Diagnostic, SpecError, error

VALUE_TYPES = ("output_contains", "output_equals", "status_is", "metadata_equals", "variable_equals")
KEY_TYPES = ("metadata_equals", "variable_equals")
MAX_DEPTH = 64


def condition_diagnostics(condition: Mapping[str, Any], path: str) -> list[Diagnostic]:
    """Semantic checks of a schema-valid condition (recursively)."""
    out: list[Diagnostic] = []
    kind = condition.get("type")
    if kind in VALUE_TYPES and condition.get("value") is None:
        out.append(
            error(
                "E_CONDITION_VALUE",
                f"Condition '{kind}' requires a value.",
                f"{path}.value",
                "Set condition.value.",
            )
        )
    if kind in KEY_TYPES and not condition.get("key"):
        out.append(error("E_CONDITION_KEY", f"Condition '{kind}' requires a key.", f"{path}.key", "Set condition.key."))
    if kind in ("all_of", "any_of"):
        children = condition.get("conditions") or []
        if not children:
            out.append(
                error(
                    "E_CONDITION_CHILDREN",
                    f"Condition '{kind}' requires at least one child condition.",
                    f"{path}.conditions",
                    "Add entries under condition.conditions.",
                )
            )
        for index, child in enumerate(children):
            out.extend(condition_diagnostics(child, f"{path}.conditions[{index}]"))
    if kind == "not":
        child = condition.get("condition")
        if child is None:
            out.append(
                error(
                    "E_CONDITION_CHILD",
                    "Condition 'not' requires a child condition.",
                    f"{path}.condition",
                    "Set condition.condition.",
                )
            )
        else:
            out.extend(condition_diagnostics(child, f"{path}.condition"))
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def evaluate_condition(
    condition: Mapping[str, Any] | None,
    output_text: str = "",
    metadata: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    status: str = "completed",
) -> bool:
    """Evaluate an edge condition; ``None`` (an edge without condition) always holds.

    Raises :class:`SpecError` (code ``condition_invalid``) for a malformed condition.
    """
    return _evaluate(condition, output_text or "", metadata or {}, variables or {}, status, 0)


def _evaluate(
    condition: Mapping[str, Any] | None,
    output: str,
    metadata: Mapping[str, Any],
    variables: Mapping[str, Any],
    status: str,
    depth: int,
) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, Mapping) or depth > MAX_DEPTH:
        raise SpecError("Edge condition must be an object.", code="condition_invalid")
    kind = condition.get("type")
    value = condition.get("value")
    if kind == "always":
        return True
    if kind == "never":
        return False
    if kind in ("output_contains", "output_equals"):
        if value is None:
            raise SpecError(f"Condition '{kind}' requires a value.", code="condition_invalid")
        needle, haystack = _text(value), output
        if not condition.get("case_sensitive", False):
            needle, haystack = needle.lower(), haystack.lower()
        return needle in haystack if kind == "output_contains" else needle == haystack
    if kind in ("metadata_equals", "variable_equals"):
        source = metadata if kind == "metadata_equals" else variables
        key = condition.get("key")
        if not isinstance(key, str):
            raise SpecError(f"Condition '{kind}' requires a key.", code="condition_invalid")
        return key in source and source[key] == value
    if kind == "status_is":
        return status == value
    if kind in ("all_of", "any_of"):
        children = condition.get("conditions") or []
        results = (_evaluate(c, output, metadata, variables, status, depth + 1) for c in children)
        return all(results) if kind == "all_of" else any(results)
    if kind == "not":
        child = condition.get("condition")
        if child is None:
            raise SpecError("Condition 'not' requires a child condition.", code="condition_invalid")
        return not _evaluate(child, output, metadata, variables, status, depth + 1)
    raise SpecError(f"Unknown edge condition type: {kind}", code="condition_invalid")
