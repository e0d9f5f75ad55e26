"""Diagnostics, validation reports and the exception hierarchy of the spec compiler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    """One validation finding (code, severity, message, dotted path, suggestion)."""

    code: str
    severity: Severity
    message: str
    path: str | None = None
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "suggestion": self.suggestion,
        }


@dataclass
class ValidationReport:
    """Outcome of validating a spec: valid when no diagnostic is an error."""

    valid: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @classmethod
    def from_diagnostics(cls, diagnostics: Sequence[Diagnostic]) -> ValidationReport:
        diags = list(diagnostics)
        return cls(valid=not any(d.severity == "error" for d in diags), diagnostics=diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "diagnostics": [d.to_dict() for d in self.diagnostics]}


def error(code: str, message: str, path: str | None = None, suggestion: str | None = None) -> Diagnostic:
    """Shorthand for an error diagnostic."""
    return Diagnostic(code, "error", message, path, suggestion)


def warning(code: str, message: str, path: str | None = None, suggestion: str | None = None) -> Diagnostic:
    """Shorthand for a warning diagnostic."""
    return Diagnostic(code, "warning", message, path, suggestion)


class SpecError(Exception):
    """Base class of every error raised by :mod:`kneo.specs` (stable ``code`` + ``message``)."""

    default_code = "spec_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class SpecVersionError(SpecError):
    """The spec declares a version other than absent, ``v0`` or ``v1`` (1.2.0's ``invalid_request``)."""

    default_code = "invalid_request"

    def __init__(self, version: object) -> None:
        super().__init__(f"Unsupported spec version: {version}")
        self.version = version


class SpecParseError(SpecError):
    """The document could not be parsed or its root is not a mapping."""

    default_code = "spec_parse_error"


class SpecNotFound(SpecError):
    """A spec file (or skill source) does not exist."""

    default_code = "spec_not_found"


class SpecPathConfined(SpecError):
    """A caller-supplied path escapes the spec root."""

    default_code = "spec_path_confined"


class SpecInvalid(SpecError):
    """Compilation refused because validation produced error diagnostics."""

    default_code = "spec_invalid"

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        lines = [f"ERROR {d.code}: {d.message}" for d in self.diagnostics if d.severity == "error"]
        super().__init__("Spec is invalid:\n" + "\n".join(lines))
