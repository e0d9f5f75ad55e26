"""Loading spec documents: inline mappings or files confined under a spec root, plus overrides."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError, SpecNotFound, SpecParseError, SpecPathConfined

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 500_000
DELETE_MARKER = "__delete__"


def to_plain(value: Any) -> Any:
    """Return a JSON-like deep copy of ``value`` (dicts, lists, scalars).

    Raises :class:`SpecParseError` for documents nested too deeply (this also catches
    self-referencing structures) or alias bombs with too many nodes.
    """
    budget = [MAX_NODES]

    def conv(item: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SpecParseError("Spec document is nested too deeply.")
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecParseError("Spec document is too large.")
        if item is None or isinstance(item, bool | int | float | str):
            return item
        if isinstance(item, Mapping):
            return {
                (k if isinstance(k, str | int | float | bool) or k is None else str(k)): conv(v, depth + 1)
                for k, v in item.items()
            }
        if isinstance(item, list | tuple):
            return [conv(v, depth + 1) for v in item]
        if isinstance(item, _dt.date | _dt.datetime | _dt.time):
            return item.isoformat()
        if isinstance(item, bytes | bytearray):
            return bytes(item).decode("utf-8", errors="replace")
        if isinstance(item, set | frozenset):
            return [conv(v, depth + 1) for v in sorted(item, key=repr)]
        return str(item)

    return conv(value, 0)


def parse_text(text: str, *, suffix: str = ".yaml") -> dict[str, Any]:
    """Parse YAML (or JSON when ``suffix`` is ``.json``) text into a plain mapping."""
    if not text.strip():
        raise SpecParseError("Spec file is empty")
    try:
        data = json.loads(text) if suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise SpecParseError(f"Could not parse spec: {_first_line(exc)}") from None
    if data is None:
        raise SpecParseError("Spec file is empty")
    if not isinstance(data, Mapping):
        raise SpecParseError("Spec root must be an object")
    plain = to_plain(data)
    assert isinstance(plain, dict)
    return plain


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:500]


def resolve_confined(path_text: str, spec_root: Path, *, what: str = "spec_path") -> Path:
    """Resolve ``path_text`` against ``spec_root`` and refuse anything outside the root."""
    if not isinstance(path_text, str) or not path_text.strip() or "\x00" in path_text:
        raise SpecPathConfined(f"{what} must be a non-empty path under the spec root.")
    if path_text.startswith("~"):
        raise SpecPathConfined(f"{what} may not start with '~': {path_text}")
    try:
        root = Path(spec_root).resolve()
        candidate = Path(path_text)
        if not candidate.is_absolute():
            candidate = root / candidate
        resolved = candidate.resolve()
    except (OSError, RuntimeError, ValueError):
        raise SpecPathConfined(f"{what} cannot be resolved: {path_text}") from None
    if resolved != root and not resolved.is_relative_to(root):
        raise SpecPathConfined(f"{what} escapes the spec root: {path_text}")
    return resolved


def read_spec_file(spec_path: str, spec_root: Path) -> dict[str, Any]:
    """Read and parse a spec file confined under ``spec_root``."""
    resolved = resolve_confined(spec_path, spec_root)
    if not resolved.is_file():
        raise SpecNotFound(f"Spec file not found: {spec_path}")
    try:
        if resolved.stat().st_size > MAX_FILE_BYTES:
            raise SpecParseError("Spec file is too large.")
        raw = resolved.read_bytes()
    except OSError:
        raise SpecNotFound(f"Spec file not found: {spec_path}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecParseError("Spec file is not valid UTF-8.") from None
    return parse_text(text, suffix=resolved.suffix)


def _is_delete(value: Any) -> bool:
    return value is None or (isinstance(value, Mapping) and value.get(DELETE_MARKER) is True)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overlay`` onto ``base`` (Appendix A.3); neither input is modified.

    Mappings merge recursively, lists and scalars replace, a ``null`` value or a mapping
    ``{__delete__: true}`` removes the key.
    """
    result: dict[str, Any] = to_plain(dict(base))
    for key, value in overlay.items():
        if _is_delete(value):
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            result[key] = deep_merge(current if isinstance(current, Mapping) else {}, value)
        else:
            result[key] = to_plain(value)
    return result


def load_document(
    spec: Mapping[str, Any] | None,
    spec_path: str | None,
    *,
    spec_root: Path,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the raw spec mapping from an inline ``spec`` or a confined ``spec_path``.

    ``overrides`` are deep-merged over the document (before migration and validation).
    Every failure is a :class:`SpecError` subclass.
    """
    if spec is not None:
        if not isinstance(spec, Mapping):
            raise SpecParseError("Spec root must be an object")
        document = to_plain(spec)
    elif spec_path is not None:
        document = read_spec_file(spec_path, spec_root)
    else:
        raise SpecError("Either spec_path or spec must be provided.", code="spec_missing")
    if overrides:
        if not isinstance(overrides, Mapping):
            raise SpecParseError("Overrides must be an object")
        document = deep_merge(document, overrides)
    assert isinstance(document, dict)
    return document


__all__ = ["deep_merge", "load_document", "parse_text", "read_spec_file", "resolve_confined", "to_plain"]
