"""Deterministic mutations of the base specs in ``bases/`` for differential validation."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BASES_DIR = Path(__file__).parent / "bases"
Path_ = tuple[str | int, ...]

# Replacement values by the type of the value they replace.
_FOR_INT: tuple[Any, ...] = ("3600", "5.0", True, -1, 0, 1e308, 2.5, "many", None)
_FOR_BOOL: tuple[Any, ...] = ("1", "y", 0, "no", "maybe", 2, None)
_FOR_FLOAT: tuple[Any, ...] = ("0.5", -1.0, "slow", None)
_FOR_STR: tuple[Any, ...] = ("", "missing-name", 7, "~/secret", "../outside", None, ["x"])
_FOR_LIST: tuple[Any, ...] = ([], None, "text", {})
_FOR_MAP: tuple[Any, ...] = ({}, None, [], "text")


@dataclass(frozen=True)
class Mutation:
    """One mutated spec: which base, what was done where, and the resulting document."""

    base: str
    description: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.base}: {self.description}"


def load_bases() -> dict[str, dict[str, Any]]:
    """The base specs by file stem."""
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(BASES_DIR.glob("*.yaml"))}


def _walk(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _label(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(root)"


def _set(spec: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = copy.deepcopy(value)
    return out


def _delete(spec: dict[str, Any], path: Path_) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return out


def _replacements(value: Any) -> tuple[Any, ...]:
    if isinstance(value, bool):
        return _FOR_BOOL
    if isinstance(value, int):
        return _FOR_INT
    if isinstance(value, float):
        return _FOR_FLOAT
    if isinstance(value, str):
        return _FOR_STR
    if isinstance(value, list):
        return _FOR_LIST
    return _FOR_MAP


def generic_mutations(base: str, spec: dict[str, Any]) -> Iterator[Mutation]:
    """Replace every value by ill-typed or edge values, delete keys, add unknown keys, duplicate items."""
    for path, value in _walk(spec):
        if not path:
            continue
        where = _label(path)
        for replacement in _replacements(value):
            yield Mutation(base, f"{where} = {replacement!r}", _set(spec, path, replacement))
        if isinstance(path[-1], str):
            yield Mutation(base, f"del {where}", _delete(spec, path))
        if isinstance(value, dict):
            yield Mutation(base, f"{where} += unknown key", _set(spec, (*path, "x_unknown"), 1))
        if isinstance(value, list) and value:
            yield Mutation(base, f"{where} += duplicate item", _set(spec, path, [*value, value[0]]))


def _curated(base: str, spec: dict[str, Any]) -> Iterator[Mutation]:
    """Targeted changes a random walk rarely produces (cross references and kind swaps)."""
    for path, value in _walk(spec):
        if isinstance(value, dict) and {"id", "kind", "ref"} <= value.keys():
            where = _label(path)
            for kind in ("agent", "function", "workflow", "human", "guardrail"):
                if kind != value["kind"]:
                    yield Mutation(base, f"{where}.kind = {kind}", _set(spec, (*path, "kind"), kind))
            yield Mutation(base, f"{where} fallback to itself", _set(spec, (*path, "fallback_ref"), value["id"]))
            yield Mutation(base, f"{where} on_error fallback", _set(spec, (*path, "on_error"), "fallback"))
    yield Mutation(base, "top-level components = null", _set(spec, ("components",), None))
    yield Mutation(base, "version = v2", _set(spec, ("version",), "v2"))
    yield Mutation(base, "version = 1", _set(spec, ("version",), 1))


def all_mutations() -> list[Mutation]:
    """Every mutation of every base, in a stable order."""
    out: list[Mutation] = []
    for base, spec in load_bases().items():
        out += generic_mutations(base, spec)
        out += _curated(base, spec)
    return out


def sample(count: int, seed: int = 12) -> list[Mutation]:
    """A reproducible sample of ``count`` mutations (all of them when there are fewer)."""
    mutations = all_mutations()
    if len(mutations) <= count:
        return mutations
    return random.Random(seed).sample(mutations, count)
