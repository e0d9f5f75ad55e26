"""Deterministic callables used by the example specs.

`kneo serve` (the embedded default) trusts this package when started from the repository root;
a deployment with a broker allows it only through KNEO_SERV_ALLOWED_MODULES=examples (and PYTHONPATH).

A function step is called with one string, the text arriving at the step, and its return value
becomes the step's output. ``examples`` is a namespace package on purpose (no ``__init__.py``), so
a deployment may put its own ``examples`` package first on the path.
"""

from __future__ import annotations


def outline(text: str) -> str:
    """The first stage of the example pipelines."""
    return f"Outline: {text}"


def draft(text: str) -> str:
    return f"Draft: {text}"


def publish(text: str) -> str:
    return f"Published: {text}"


def archive(text: str) -> str:
    return f"Archived: {text}"


def shout(text: str) -> str:
    return text.upper()


def word_count(text: str) -> str:
    return f"{len(text.split())} words"


def triage(text: str) -> str:
    """Tag a ticket URGENT when it mentions an outage, otherwise ROUTINE."""
    label = "URGENT" if any(w in text.lower() for w in ("outage", "down", "urgent")) else "ROUTINE"
    return f"{label}: {text}"


def polish(text: str) -> str:
    """One refinement pass: adds a star; a graph loops until three stars are there."""
    return f"{text}*"


def broken(text: str) -> str:
    """Always fails (shows on_error continue / fallback / retry)."""
    raise RuntimeError(f"the backing service is unavailable for: {text}")


def safe_default(text: str) -> str:
    """A fallback target."""
    return f"Fallback summary of: {text}"
