"""The pipeline: migrate → normalise → schema → semantic, and compilation to a plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kneo.sandbox import SkillRoot

from .bounds import DEFAULT_BOUNDS, SpecBounds, bounds_diagnostics, depth_diagnostics
from .build_checks import build_diagnostics
from .errors import Diagnostic, SpecError, SpecInvalid, SpecParseError, ValidationReport
from .migrate import migrate_document
from .normalize import normalize_document
from .plan import DEFAULT_WORKFLOW_NAMES, build_plan
from .schema import check_schema
from .semantic import semantic_diagnostics

TARGETS = ("workflow", "agent")


@dataclass
class Prepared:
    """Intermediate pipeline result: the normalised document and its filled form (None on E_SCHEMA)."""

    declared: dict[str, Any]
    spec: dict[str, Any] | None
    schema_error: Diagnostic | None
    applied: list[str]


def prepare(raw: Mapping[str, Any], bounds: SpecBounds = DEFAULT_BOUNDS) -> Prepared:
    """Migrate, normalise and schema-check ``raw`` (raises only :class:`SpecError`)."""
    if not isinstance(raw, Mapping):
        raise SpecParseError("Spec root must be an object")
    too_deep = depth_diagnostics(raw, bounds)
    if too_deep:
        return Prepared(dict(raw), None, too_deep[0], [])
    migrated, applied = migrate_document(raw)
    declared = normalize_document(migrated)
    spec, schema_error = check_schema(declared)
    return Prepared(declared, spec, schema_error, applied)


def _diagnostics(prepared: Prepared, allowed_modules: Sequence[str], bounds: SpecBounds) -> list[Diagnostic]:
    if prepared.schema_error is not None or prepared.spec is None:
        return [prepared.schema_error] if prepared.schema_error else []
    return [*semantic_diagnostics(prepared.spec, allowed_modules), *bounds_diagnostics(prepared.spec, bounds)]


def validate_document(
    raw: Mapping[str, Any], *, allowed_modules: Sequence[str] = (), bounds: SpecBounds = DEFAULT_BOUNDS
) -> ValidationReport:
    """Validate a raw spec; an unsupported version raises :class:`SpecVersionError`."""
    return ValidationReport.from_diagnostics(_diagnostics(prepare(raw, bounds), allowed_modules, bounds))


def compile_document(
    raw: Mapping[str, Any],
    *,
    target: str = "workflow",
    allowed_modules: Sequence[str] = (),
    skills: SkillRoot | None = None,
    bounds: SpecBounds = DEFAULT_BOUNDS,
) -> dict[str, Any]:
    """Compile a raw spec to a plan; raises :class:`SpecInvalid` when any error diagnostic exists.

    Nothing is imported: implementations are checked against ``allowed_modules`` only. Besides the
    validation diagnostics, the build checks of :mod:`kneo.specs.build_checks` apply.
    Skill sources are read (confined under the skills root, within its limits) when ``skills`` is given.
    """
    if target not in TARGETS:
        raise SpecError(f"Unsupported target: {target}. Use 'workflow' or 'agent'.", code="spec_target_invalid")
    prepared = prepare(raw, bounds)
    diagnostics = _diagnostics(prepared, allowed_modules, bounds)
    if prepared.spec is not None and not any(d.severity == "error" for d in diagnostics):
        diagnostics += build_diagnostics(prepared.spec)
    if prepared.spec is None or any(d.severity == "error" for d in diagnostics):
        raise SpecInvalid(diagnostics)
    return build_plan(prepared.spec, prepared.declared, target=target, skills=skills)


def _checked_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    prepared = prepare(raw)
    if prepared.spec is None:
        raise SpecInvalid([d for d in [prepared.schema_error] if d is not None])
    return prepared.spec


def compile_summary(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``{has_root_agent, has_root_workflow, component_agents}`` (the CLI/API compile summary)."""
    spec = _checked_spec(raw)
    return {
        "has_root_agent": True,
        "has_root_workflow": spec.get("workflow") is not None,
        "component_agents": sorted(spec["components"]["agents"]),
    }


def explain_document(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``{summary: {root_agent, root_workflow, component_agents}}`` with names."""
    spec = _checked_spec(raw)
    workflow = spec.get("workflow")
    root_workflow = None
    if workflow is not None:
        root_workflow = workflow.get("name") or DEFAULT_WORKFLOW_NAMES[workflow["type"]]
    return {
        "summary": {
            "root_agent": spec["agent"]["name"],
            "root_workflow": root_workflow,
            "component_agents": sorted(spec["components"]["agents"]),
        }
    }
