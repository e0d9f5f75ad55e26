"""Environment names: one spelling everywhere, a deployment default and per-principal bindings.

A stored policy for ``prod`` must apply to ``"PROD"``, ``" prod "`` and, where the deployment
says so, to a request that names no environment at all.
"""

from __future__ import annotations

from collections.abc import Collection

from kneo.errors import Forbidden


def normalise_environment(name: str | None) -> str | None:
    """The canonical spelling: surrounding whitespace dropped, lower case; blank means none."""
    if name is None:
        return None
    return name.strip().lower() or None


def resolve_environment(requested: str | None, bound: Collection[str], default: str | None) -> str | None:
    """The environment a request runs in.

    An unbound principal gets what it named (or the deployment default). A principal bound to
    environments gets the one it named when that is one of them, else a 403; naming none picks
    the default when it is one of them, else its only environment.
    """
    name = normalise_environment(requested)
    if not bound:
        return name or default
    if name is None:
        if default in bound:
            return default
        if len(bound) == 1:
            return next(iter(bound))
        raise Forbidden(
            f"This key is bound to the environments {', '.join(sorted(bound))}; name one of them.",
            code="environment_forbidden",
        )
    if name not in bound:
        raise Forbidden(f"This key may not use the environment '{name}'.", code="environment_forbidden")
    return name
