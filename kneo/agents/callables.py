"""Resolving ``module.attr`` callables, only from the operator's allowlisted modules."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from kneo.agents.errors import ToolError, ToolNotAllowed
from kneo.specs import module_allowed


def resolve_callable(implementation: str, allowed_modules: Sequence[str]) -> Callable[..., Any]:
    """Import ``module.attr`` only when the module is allowlisted (checked before any import)."""
    module_name, _, attribute = implementation.rpartition(".")
    if not module_name or not module_allowed(module_name, allowed_modules):
        raise ToolNotAllowed(
            f"Implementation '{implementation}' is not in an allowed module (KNEO_SERV_ALLOWED_MODULES)."
        )
    target = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(target):
        raise ToolError(f"Implementation '{implementation}' is not callable.")
    return target
