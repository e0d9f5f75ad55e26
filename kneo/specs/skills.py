"""Reading declared skill bundles at compile time: text files only, confined under the skills root.

The root is the operator's (``KNEO_SERV_SKILLS_ROOT``), never the state directory. Hidden files
and directories are skipped (a hidden source is refused), only text types are read, and all the
files read for one skill together stay within the root's byte limit.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

from kneo.sandbox import SkillRoot

from .errors import SpecNotFound, SpecParseError, SpecPathConfined
from .loading import resolve_confined, to_plain

MAX_RESOURCES = 200
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".yaml", ".yml", ".json"})
INSTRUCTION_FILES = ("SKILL.md", "skill.md", "README.md")
METADATA_FILES = ("skill.yaml", "skill.yml", "skill.json")


def _check_source(source: str) -> None:
    parts = source.replace("\\", "/").split("/")
    if source.startswith("~") or ".." in parts:
        raise SpecPathConfined(f"Skill source may not contain '..' or start with '~': {source}")
    if any(part.startswith(".") and part != "." for part in parts):
        raise SpecPathConfined(f"Skill source may not name a hidden file or directory: {source}")


class _Reader:
    """Reads the text files of one skill under ``root`` within one byte budget."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.left = root, max_bytes

    def text(self, path: Path) -> str:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise SpecPathConfined(f"Skill file escapes the skills root: {path.name}")
        if resolved.suffix.lower() not in TEXT_SUFFIXES:
            raise SpecParseError(f"Skill file type is not allowed ({', '.join(sorted(TEXT_SUFFIXES))}): {path.name}")
        try:
            data = resolved.read_bytes()[: self.left + 1]
        except OSError:
            raise SpecNotFound(f"Skill file cannot be read: {path.name}") from None
        if len(data) > self.left:
            raise SpecParseError(f"Skill files exceed the skill size limit: {path.name}")
        self.left -= len(data)
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


def _visible(path: Path, directory: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(directory).parts)


def _read_bundle(directory: Path, reader: _Reader) -> tuple[str, dict[str, Any], list[str]]:
    files = {p.name: p for p in directory.iterdir() if p.is_file() and _visible(p, directory)}
    instructions, metadata = "", {}
    used: set[str] = set()
    for name in INSTRUCTION_FILES:
        if name in files:
            used.add(name)
            front, instructions = _split_front_matter(reader.text(files[name]))
            if front is not None and name == "SKILL.md":
                metadata = front
            break
    if not metadata:
        for name in METADATA_FILES:
            if name in files:
                used.add(name)
                metadata = _parse_metadata(reader.text(files[name]), name)
                break
    resources: list[str] = []
    for path in islice(directory.rglob("*"), MAX_RESOURCES * 5):
        if path.is_file() and _visible(path, directory) and (path.parent != directory or path.name not in used):
            resources.append(path.relative_to(directory).as_posix())
    resources = sorted(resources)[:MAX_RESOURCES]
    return instructions, metadata, resources


def load_skill(name: str, skill: dict[str, Any], skills: SkillRoot) -> dict[str, Any]:
    """Plan entry of one skill: name, description, instructions, metadata, source, resources."""
    source = skill["source"]
    if skills.path is None:
        raise SpecPathConfined("Skill sources are disabled on this server: the operator sets KNEO_SERV_SKILLS_ROOT.")
    _check_source(source)
    root = Path(skills.path).resolve()
    path = resolve_confined(source, root, what="Skill source")
    if not path.exists():
        raise SpecNotFound(f"Skill source does not exist: {source}")
    reader = _Reader(root, skills.max_bytes)
    if path.is_dir():
        instructions, metadata, resources = _read_bundle(path, reader)
    elif path.is_file():
        instructions, metadata, resources = reader.text(path), {}, []
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


SKILLS_DIRECTORY = "skills"
MAX_CATALOG_ENTRIES = 1000


def skill_catalog(skills: SkillRoot) -> list[dict[str, Any]]:
    """The skills discoverable under ``skills/`` of the skills root (one directory or file each), read
    like a declared skill: ``{name, description, path}`` where ``path`` is the ``source`` a spec names.
    Hidden and unreadable entries are left out; no root (skill sources refused) lists nothing."""
    if skills.path is None:
        return []
    root = Path(skills.path).resolve()
    directory = root / SKILLS_DIRECTORY
    if not directory.is_dir():
        return []
    entries: list[dict[str, Any]] = []
    for path in sorted(islice(directory.iterdir(), MAX_CATALOG_ENTRIES)):
        if path.name.startswith("."):
            continue
        source = path.relative_to(root).as_posix()
        try:
            skill = load_skill(path.stem if path.is_file() else path.name, {"source": source}, skills)
        except (SpecNotFound, SpecParseError, SpecPathConfined):
            continue
        entries.append({"name": skill["name"], "description": skill["description"], "path": source})
    return entries
