"""Regular expressions from specs, compiled with RE2: matching time is linear in the input.

A backtracking engine lets ``(a+)+$`` on a few dozen characters hold a worker (and the GIL)
for hours. RE2 has no backreferences or lookaround; a pattern that needs them is refused at
validation. Patterns and matched text are capped as well.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_CHARS = 1_000
MAX_PATTERNS = 100
MAX_MATCH_CHARS = 1_000_000
PATTERN_MEMORY_BYTES = 8 << 20


class PatternError(ValueError):
    """The pattern is too long or not supported by the linear-time engine."""


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern (cached); raises :class:`PatternError`."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern is longer than {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.max_mem = PATTERN_MEMORY_BYTES
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(
            f"pattern '{pattern}' is not supported (RE2 syntax: no backreferences or lookaround): {reason}"
        ) from None


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def search(pattern: str, text: str) -> bool:
    """True when ``pattern`` matches somewhere in ``text`` (longer text fails closed)."""
    if len(text) > MAX_MATCH_CHARS:
        raise PatternError(f"text of {len(text)} characters is longer than the {MAX_MATCH_CHARS} a pattern may scan")
    return compile_pattern(pattern).search(text) is not None
