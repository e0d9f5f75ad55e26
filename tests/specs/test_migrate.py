"""v0 -> v1 migration (spec-format §11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kneo.specs import SpecVersionError, load_document, migrate_document, validate_document

DATA = Path(__file__).parent / "data"


def test_legacy_document() -> None:
    raw = load_document(None, "legacy_v0.yaml", spec_root=DATA)
    migrated, applied = migrate_document(raw)
    assert applied == [
        "set version=v1",
        "renamed root_agent to agent",
        "renamed root_workflow to workflow",
        "moved component_agents to components.agents",
        "moved component_workflows to components.workflows",
        "moved humans to components.humans",
        "converted workflow list to sequential workflow",
        "set components.workflows.sub.type=sequential",
    ]
    assert migrated["workflow"] == {"type": "sequential", "steps": ["helper"]}
    assert "functions" not in migrated and "functions" not in migrated["components"]
    assert migrated["components"]["humans"] == {"boss": {"description": "Approve"}}
    assert "root_agent" in raw  # input untouched
    assert validate_document(raw).valid


def test_v1_unchanged_and_missing_version() -> None:
    spec = {"version": "v1", "agent": {"name": "a"}}
    assert migrate_document(spec) == (spec, [])
    migrated, applied = migrate_document({"agent": {"name": "a"}})
    assert applied == ["set version=v1"]
    assert migrated == {"version": "v1", "agent": {"name": "a"}, "components": {}}


def test_existing_bucket_entries_win() -> None:
    migrated, _ = migrate_document(
        {
            "version": "v0",
            "agent": {"name": "a"},
            "components": {"agents": {"x": {"name": "new"}}},
            "component_agents": {"x": {"name": "old"}, "y": {"name": "y"}},
        }
    )
    assert migrated["components"]["agents"] == {"x": {"name": "new"}, "y": {"name": "y"}}


@pytest.mark.parametrize("version", ["v2", "V1", 1, ["v1"]])
def test_unsupported_versions(version: object) -> None:
    with pytest.raises(SpecVersionError) as info:
        migrate_document({"version": version})
    assert info.value.message == f"Unsupported spec version: {version}"
