"""A tiny declarative validator producing pydantic-style error text and a defaults-filled copy."""

from __future__ import annotations

import math
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


class Int(Node):
    def __init__(self, gt: int | None = None, ge: int | None = None) -> None:
        self.gt = gt
        self.ge = ge

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if isinstance(value, float) and not isinstance(value, bool) and math.isfinite(value):
            if value.is_integer():
                value = int(value)
            else:
                problems.append(Problem(loc, "Input should be a valid integer, got a number with a fractional part"))
                return value
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(Problem(loc, "Input should be a valid integer"))
            return value
        if self.gt is not None and value <= self.gt:
            problems.append(Problem(loc, f"Input should be greater than {self.gt}"))
        if self.ge is not None and value < self.ge:
            problems.append(Problem(loc, f"Input should be greater than or equal to {self.ge}"))
        return value


class Num(Node):
    def __init__(self, ge: float | None = None) -> None:
        self.ge = ge

    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(Problem(loc, "Input should be a valid number"))
            return value
        if self.ge is not None and not value >= self.ge:
            problems.append(Problem(loc, f"Input should be greater than or equal to {self.ge}"))
        return value


class Bool(Node):
    def check(self, value: Any, loc: Loc, problems: list[Problem]) -> Any:
        if not isinstance(value, bool):
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
