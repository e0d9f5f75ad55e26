"""load_document: inline specs, confined spec files, parse errors and override merging."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kneo.specs import (
    SpecError,
    SpecNotFound,
    SpecParseError,
    SpecPathConfined,
    deep_merge,
    load_document,
)

DATA = Path(__file__).parent / "data"


def test_inline_spec_is_copied() -> None:
    spec: dict[str, Any] = {"version": "v1", "agent": {"name": "a"}}
    doc = load_document(spec, None, spec_root=DATA)
    assert doc == spec and doc is not spec
    doc["agent"]["name"] = "changed"
    assert spec["agent"]["name"] == "a"


def test_json_and_yaml_files() -> None:
    assert load_document(None, "minimal.json", spec_root=DATA) == {"version": "v1", "agent": {"name": "echo"}}
    assert load_document(None, "legacy_v0.yaml", spec_root=DATA)["root_agent"] == {"name": "legacy"}
    absolute = str(DATA / "minimal.json")
    assert load_document(None, absolute, spec_root=DATA)["agent"]["name"] == "echo"


def test_neither_given() -> None:
    with pytest.raises(SpecError) as info:
        load_document(None, None, spec_root=DATA)
    assert info.value.code == "spec_missing"
    assert info.value.message == "Either spec_path or spec must be provided."


@pytest.mark.parametrize(
    ("name", "message"),
    [("empty.yaml", "Spec file is empty"), ("list_root.yaml", "Spec root must be an object")],
)
def test_parse_failures(name: str, message: str) -> None:
    with pytest.raises(SpecParseError) as info:
        load_document(None, name, spec_root=DATA)
    assert info.value.code == "spec_parse_error" and info.value.message == message


def test_broken_yaml_and_inline_non_mapping() -> None:
    with pytest.raises(SpecParseError):
        load_document(None, "broken.yaml", spec_root=DATA)
    with pytest.raises(SpecParseError):
        load_document([1, 2], None, spec_root=DATA)  # type: ignore[arg-type]


def test_not_found() -> None:
    with pytest.raises(SpecNotFound) as info:
        load_document(None, "missing.yaml", spec_root=DATA)
    assert info.value.code == "spec_not_found"


@pytest.mark.parametrize("path", ["../test_loading.py", "skills/../../factories.py", "/etc/passwd", "~/x.yaml"])
def test_confinement(path: str) -> None:
    with pytest.raises(SpecPathConfined) as info:
        load_document(None, path, spec_root=DATA)
    assert info.value.code == "spec_path_confined"


def test_dotdot_inside_root_is_fine() -> None:
    assert load_document(None, "skills/../minimal.json", spec_root=DATA)["agent"]["name"] == "echo"


def test_symlink_escape_is_confined(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("version: v1\nagent: {name: x}\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link.yaml")
    with pytest.raises(SpecPathConfined):
        load_document(None, "link.yaml", spec_root=root)


def test_recursive_yaml_alias_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "rec.yaml").write_text("a: &x [*x]\n")
    with pytest.raises(SpecParseError):
        load_document(None, "rec.yaml", spec_root=tmp_path)


def test_overrides_merge_rules() -> None:
    base: dict[str, Any] = {
        "version": "v1",
        "agent": {
            "name": "a",
            "model": {"provider": "p", "name": "m", "extra": {"k": 1}},
            "skills": ["x", "y"],
        },
        "metadata": {"keep": 1, "drop": 2, "gone": {"deep": 1}},
    }
    overrides = {
        "agent": {"model": {"name": "m2", "extra": {"j": 2}}, "skills": ["z"]},
        "metadata": {"drop": None, "gone": {"__delete__": True}, "new": {"a": None, "b": 1}},
    }
    doc = load_document(base, None, spec_root=DATA, overrides=overrides)
    assert doc["agent"]["model"] == {"provider": "p", "name": "m2", "extra": {"k": 1, "j": 2}}
    assert doc["agent"]["skills"] == ["z"]
    assert doc["metadata"] == {"keep": 1, "new": {"b": 1}}
    assert base["metadata"]["drop"] == 2  # inputs untouched


def test_deep_merge_replaces_scalar_by_mapping() -> None:
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert deep_merge({"a": {"b": 1}}, {"a": [1]}) == {"a": [1]}
