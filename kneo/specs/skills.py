"""Reading declared skill bundles (files only, confined under the spec root) at compile time."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecNotFound, SpecParseError, SpecPathConfined
from .loading import resolve_confined, to_plain

MAX_SKILL_FILE_BYTES = 1024 * 1024
MAX_RESOURCES = 200
INSTRUCTION_FILES = ("SKILL.md", "skill.md", "README.md")
METADATA_FILES = ("skill.yaml", "skill.yml", "skill.json")


def _check_source(source: str) -> None:
    parts = source.replace("\\", "/").split("/")
    if source.startswith("~") or ".." in parts:
        raise SpecPathConfined(f"Skill source may not contain '..' or start with '~': {source}")


def _read_text(path: Path, root: Path) -> str:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise SpecPathConfined(f"Skill file escapes the spec root: {path.name}")
    try:
        data = resolved.read_bytes()[: MAX_SKILL_FILE_BYTES + 1]
    except OSError:
        raise SpecNotFound(f"Skill file cannot be read: {path.name}") from None
    if len(data) > MAX_SKILL_FILE_BYTES:
        raise SpecParseError(f"Skill file is too large: {path.name}")
    return data.decode("utf-8", errors="replace")


def _parse_metadata(text: str, name: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        raise SpecParseError(f"Invalid skill metadata file: {name}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecParseError(f"Skill metadata must be an object: {name}")
    plain = to_plain(data)
    assert isinstance(plain, dict)
    return plain


def _split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    if not text.startswith("---"):
        return None, text
    lines = text.splitlines(keepends=True)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            header = "".join(lines[1:index])
            try:
                meta = yaml.safe_load(header)
            except yaml.YAMLError:
                return None, text
            if isinstance(meta, dict):
                body = "".join(lines[index + 1 :]).lstrip("\n")
                return to_plain(meta), body
            return None, text
    return None, text


def _read_bundle(directory: Path, root: Path) -> tuple[str, dict[str, Any], list[str]]:
    files = {p.name: p for p in directory.iterdir() if p.is_file()}
    instructions, metadata = "", {}
    used: set[str] = set()
    for name in INSTRUCTION_FILES:
        if name in files:
            used.add(name)
            front, instructions = _split_front_matter(_read_text(files[name], root))
            if front is not None and name == "SKILL.md":
                metadata = front
            break
    if not metadata:
        for name in METADATA_FILES:
            if name in files:
                used.add(name)
                metadata = _parse_metadata(_read_text(files[name], root), name)
                break
    resources: list[str] = []
    for path in islice(directory.rglob("*"), MAX_RESOURCES * 5):
        if path.is_file() and (path.parent != directory or path.name not in used):
            resources.append(path.relative_to(directory).as_posix())
    resources = sorted(resources)[:MAX_RESOURCES]
    return instructions, metadata, resources


def load_skill(name: str, skill: dict[str, Any], spec_root: Path) -> dict[str, Any]:
    """Plan entry of one skill: name, description, instructions, metadata, source, resources."""
    source = skill["source"]
    _check_source(source)
    root = Path(spec_root).resolve()
    path = resolve_confined(source, root, what="Skill source")
    if not path.exists():
        raise SpecNotFound(f"Skill source does not exist: {source}")
    if path.is_dir():
        instructions, metadata, resources = _read_bundle(path, root)
    elif path.is_file():
        instructions, metadata, resources = _read_text(path, root), {}, []
    else:
        raise SpecNotFound(f"Skill source is not a file or directory: {source}")
    description = skill.get("description") or metadata.get("description")
    return {
        "name": name,
        "description": description if isinstance(description, str) else None,
        "instructions": instructions,
        "metadata": metadata,
        "source": source,
        "resources": resources,
    }
