"""A tiny declarative validator producing pydantic-style error text and a defaults-filled copy."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]
MISSING: Any = object()


@dataclass
class Problem:
    """One structural problem at a location."""

    loc: Loc
    message: str


class Node:
    """Base validator node: ``check`` returns the coerced value and records problems."""

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        raise NotImplementedError


class AnyValue(Node):
    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        return value


class Str(Node):
    def __init__(self, validator: Callable[[str], str | None] | None = None) -> None:
        self.validator = validator

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, str):
            problems.append(Problem(loc, "Input should be a valid string"))
            return value
        if self.validator is not None:
            msg = self.validator(value)
            if msg:
                problems.append(Problem(loc, f"Value error, {msg}"))
        return value


_INT_TEXT = re.compile(r"[+-]?\d+(?:_\d+)*(?:\.0+)?")
_INT64_MAX = 2**63
_MAX_DIGITS = 4000
TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def lax_int(value: Any) -> tuple[int | None, str | None]:
    """Coerce like pydantic's lax mode: bools, whole floats and integer strings (``"5.0"``) become ints.

    Returns ``(number, None)`` or ``(None, problem message)``.
    """
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, "Input should be a finite number"
        if not value.is_integer():
            return None, "Input should be a valid integer, got a number with a fractional part"
        if abs(value) >= _INT64_MAX:
            return None, "Unable to parse input string as an integer, exceeded maximum size"
        return int(value), None
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= _MAX_DIGITS and _INT_TEXT.fullmatch(text):
            return int(text.split(".", 1)[0]), None
        return None, "Input should be a valid integer, unable to parse string as an integer"
    return None, "Input should be a valid integer"


class Int(Node):
    def __init__(self, gt: int | None = None, ge: int | None = None) -> None:
        self.gt = gt
        self.ge = ge

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        number, problem = lax_int(value)
        if number is None:
            problems.append(Problem(loc, problem or "Input should be a valid integer"))
            return value
        if self.gt is not None and number <= self.gt:
            problems.append(Problem(loc, f"Input should be greater than {self.gt}"))
        if self.ge is not None and number < self.ge:
            problems.append(Problem(loc, f"Input should be greater than or equal to {self.ge}"))
        return number


class Num(Node):
    def __init__(self, ge: float | None = None) -> None:
        self.ge = ge

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if isinstance(value, str):
            try:
                parsed = float(value.strip())
            except ValueError:
                parsed = math.nan
            if not math.isfinite(parsed):  # kneo stores specs as JSON, which has no NaN or infinity
                problems.append(Problem(loc, "Input should be a valid number, unable to parse string as a number"))
                return value
            value = parsed
        elif isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float):
            problems.append(Problem(loc, "Input should be a valid number"))
            return value
        if self.ge is not None and not value >= self.ge:
            problems.append(Problem(loc, f"Input should be greater than or equal to {self.ge}"))
        return value


class Bool(Node):
    """Booleans, 0/1 and the words pydantic accepts (``"yes"``, ``"off"``, …, any case)."""

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in TRUE_WORDS | FALSE_WORDS:
            return value.lower() in TRUE_WORDS
        problems.append(Problem(loc, "Input should be a valid boolean"))
        return value


class Enum(Node):
    def __init__(self, *values: str) -> None:
        self.values = values

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, str) or value not in self.values:
            quoted = [f"'{v}'" for v in self.values]
            text = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            problems.append(Problem(loc, f"Input should be {text}"))
        return value


class Nullable(Node):
    def __init__(self, inner: Node) -> None:
        self.inner = inner

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if value is None:
            return None
        return self.inner.check(value, loc, problems)


class ListOf(Node):
    def __init__(self, item: Node) -> None:
        self.item = item

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, list):
            problems.append(Problem(loc, "Input should be a valid list"))
            return value
        return [self.item.check(v, (*loc, i), problems) for i, v in enumerate(value)]


class MapOf(Node):
    def __init__(self, item: Node) -> None:
        self.item = item

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, Mapping):
            problems.append(Problem(loc, "Input should be a valid dictionary"))
            return value
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(Problem((*loc, str(key), "[key]"), "Input should be a valid string"))
                continue
            out[key] = self.item.check(item, (*loc, key), problems)
        return out


@dataclass
class Field:
    """A model field; ``default`` may be a value, a zero-arg factory, or MISSING (not filled)."""

    node: Node
    required: bool = False
    default: Any = None

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


@dataclass
class Model(Node):
    """A mapping with known fields; unknown keys are errors unless ``extra`` is true."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    extra: bool = False

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, Mapping):
            problems.append(Problem(loc, "Input should be a valid dictionary"))
            return value
        out: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if name in value:
                out[name] = spec.node.check(value[name], (*loc, name), problems)
            elif spec.required:
                problems.append(Problem((*loc, name), "Field required"))
            elif spec.default is not MISSING:
                out[name] = spec.default_value()
        for key, item in value.items():
            if key in self.fields:
                continue
            if self.extra and isinstance(key, str):
                out[key] = item
            else:
                problems.append(Problem((*loc, str(key)), "Extra inputs are not permitted"))
        return out


class Tagged(Node):
    """A discriminated union over ``tag`` (like pydantic's ``Field(discriminator=...)``)."""

    def __init__(self, tag: str, choices: dict[str, Model], aliases: dict[str, str] | None = None) -> None:
        self.tag = tag
        self.choices = choices
        self.aliases = aliases or {}

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, Mapping):
            problems.append(Problem(loc, "Input should be a valid dictionary"))
            return value
        tag = value.get(self.tag, MISSING)
        if tag is MISSING:
            problems.append(Problem(loc, f"Unable to extract tag using discriminator '{self.tag}'"))
            return value
        canonical = self.aliases.get(tag, tag) if isinstance(tag, str) else None
        if canonical not in self.choices:
            expected = ", ".join(f"'{t}'" for t in (*self.choices, *self.aliases))
            problems.append(
                Problem(
                    loc,
                    f"Input tag '{tag}' found using '{self.tag}' does not match any of the expected tags: {expected}",
                )
            )
            return value
        out = self.choices[canonical].check(value, loc, problems)
        if isinstance(out, dict):
            out[self.tag] = canonical
        return out


def format_problems(problems: list[Problem], title: str) -> str:
    """Render problems like pydantic's ``ValidationError`` text."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    lines = [f"{count} validation {noun} for {title}"]
    for problem in problems:
        lines.append(".".join(str(part) for part in problem.loc) or "(root)")
        lines.append(f"  {problem.message}")
    return "\n".join(lines)
