"""Comparing two ``/specs/validate`` answers: valid flag, diagnostic codes and paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# kneo-only errors that are deliberate policy, not disagreement: the module allow-list
# (KNEO_SERV_ALLOWED_MODULES) and the sandbox bounds on untrusted specs.
POLICY_CODES = frozenset({"E_UNSAFE_TOOL_IMPORT", "E_UNSAFE_FUNCTION_IMPORT", "E_SPEC_LIMIT"})
# Follows from a policy error (an unsafe import makes the spec a privileged surface).
POLICY_FOLLOWERS = frozenset({"W_HUMAN_APPROVAL_MISSING"})

Finding = tuple[str, str, str]  # (severity, code, path)


@dataclass(frozen=True)
class Answer:
    """The comparable part of one answer: HTTP status, error code or (valid, findings)."""

    status: int
    error: str | None = None
    valid: bool | None = None
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_response(cls, status: int, body: Any) -> Answer:
        if status != 200:
            detail = body.get("detail") if isinstance(body, dict) else None
            return cls(status, error=detail.get("error") if isinstance(detail, dict) else str(detail))
        findings = tuple(sorted((d["severity"], d["code"], d["path"] or "") for d in body["diagnostics"]))
        return cls(status, valid=body["valid"], findings=findings)


@dataclass(frozen=True)
class Outcome:
    """How kneo's answer relates to the reference's for one mutated spec."""

    name: str
    reference: Answer
    kneo: Answer

    @property
    def reference_failed(self) -> bool:
        """The reference answered 5xx: a reference bug, kneo only has to answer below 500."""
        return self.reference.status >= 500

    @property
    def policy_only(self) -> bool:
        """The answers differ only by kneo's policy errors (and what follows from them)."""
        if self.reference.status != 200 or self.kneo.status != 200:
            return False
        extra = set(self.kneo.findings) - set(self.reference.findings)
        missing = set(self.reference.findings) - set(self.kneo.findings)
        return (
            not missing
            and any(code in POLICY_CODES for _, code, _ in extra)
            and all(code in POLICY_CODES | POLICY_FOLLOWERS for _, code, _ in extra)
        )

    @property
    def agrees(self) -> bool:
        return self.reference == self.kneo

    def describe(self) -> str:
        ref, ours = self.reference, self.kneo
        if ref.status != 200 or ours.status != 200:
            return f"{self.name}: 1.2.0 {ref.status} {ref.error}; kneo {ours.status} {ours.error or ours.valid}"
        ref_set, kneo_set = set(self.reference.findings), set(self.kneo.findings)
        return (
            f"{self.name}: valid {self.reference.valid}/{self.kneo.valid}; "
            f"only 1.2.0 {sorted(ref_set - kneo_set)}; only kneo {sorted(kneo_set - ref_set)}"
        )
