"""Migration of legacy (absent / ``v0``) spec documents to ``v1`` (spec-format §11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import SpecParseError, SpecVersionError
from .loading import to_plain

SUPPORTED_SOURCE_VERSIONS = (None, "v0", "v1")
_LEGACY_BUCKETS = (
    ("component_agents", "agents"),
    ("component_workflows", "workflows"),
    ("functions", "functions"),
    ("humans", "humans"),
)


def source_version(raw: Mapping[str, Any]) -> str | None:
    """Return the declared version, raising :class:`SpecVersionError` when unsupported."""
    version = raw.get("version")
    if version is None:
        return None
    if not isinstance(version, str) or version not in SUPPORTED_SOURCE_VERSIONS:
        raise SpecVersionError(version)
    return version


def migrate_document(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Migrate ``raw`` to v1; return ``(migrated copy, applied change descriptions)``."""
    if not isinstance(raw, Mapping):
        raise SpecParseError("Spec root must be an object")
    version = source_version(raw)
    doc: dict[str, Any] = to_plain(dict(raw))
    if version == "v1":
        return doc, []
    applied: list[str] = ["set version=v1"]
    doc["version"] = "v1"
    for old, new in (("root_agent", "agent"), ("root_workflow", "workflow")):
        if old in doc and new not in doc:
            doc[new] = doc.pop(old)
            applied.append(f"renamed {old} to {new}")
    components = doc.setdefault("components", {})
    if isinstance(components, dict):
        for legacy, bucket in _LEGACY_BUCKETS:
            if legacy not in doc:
                continue
            value = doc[legacy]
            if not value:
                del doc[legacy]
                continue
            target = components.get(bucket)
            if not isinstance(value, Mapping) or (target is not None and not isinstance(target, dict)):
                continue
            merged = dict(value)
            merged.update(target or {})
            components[bucket] = merged
            del doc[legacy]
            applied.append(f"moved {legacy} to components.{bucket}")
    _migrate_workflow_shapes(doc, applied)
    return doc, applied


def _migrate_workflow_shapes(doc: dict[str, Any], applied: list[str]) -> None:
    workflow = doc.get("workflow")
    if isinstance(workflow, list):
        doc["workflow"] = {"type": "sequential", "steps": workflow}
        applied.append("converted workflow list to sequential workflow")
    elif isinstance(workflow, dict) and "type" not in workflow and "steps" in workflow:
        workflow["type"] = "sequential"
        applied.append("set workflow.type=sequential")
    components = doc.get("components")
    workflows = components.get("workflows") if isinstance(components, dict) else None
    if isinstance(workflows, dict):
        for name, entry in workflows.items():
            if isinstance(entry, list):
                workflows[name] = {"type": "sequential", "steps": entry}
                applied.append(f"converted components.workflows.{name} list to sequential workflow")
            elif isinstance(entry, dict) and "type" not in entry and "steps" in entry:
                entry["type"] = "sequential"
                applied.append(f"set components.workflows.{name}.type=sequential")
