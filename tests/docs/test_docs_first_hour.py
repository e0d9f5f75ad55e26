"""The newcomer's documents: every spec field is described, links resolve, no unknown references."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kneo.specs import schema
from kneo.specs.schema_types import Model, Tagged
from tests.support.services import ROOT

DOCS = ROOT / "docs"
NEWCOMER = (ROOT / "README.md", DOCS / "getting-started.md", DOCS / "spec-language.md", DOCS / "cli.md")
WITH_COMMANDS = (*NEWCOMER, DOCS / "operations" / "README.md")


def models(node: object, seen: set[int] | None = None) -> Iterator[Model]:
    """Every model reachable from ``node`` (fields, lists, maps, tagged unions)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Model):
        yield node
        for field in node.fields.values():
            yield from models(field, seen)
    elif isinstance(node, Tagged):
        for choice in node.choices.values():
            yield from models(choice, seen)
    else:
        for child in vars(node).values() if hasattr(node, "__dict__") else ():
            if isinstance(child, list | tuple):
                for item in child:
                    yield from models(item, seen)
            else:
                yield from models(child, seen)


def test_every_spec_field_is_described() -> None:
    text = (DOCS / "spec-language.md").read_text()
    found = list(models(schema.SPEC))
    assert {m.name for m in found} >= {"KneoSpec", "AgentSpec", "HumanComponentSpec", "EdgeConditionSpec"}
    missing = sorted({f"{m.name}.{name}" for m in found for name in m.fields if f"`{name}`" not in text})
    assert not missing, f"describe in docs/spec-language.md: {missing}"
    for values in (schema.STEP_KINDS, schema.ON_ERROR, schema.CONDITION_TYPES, schema.WORKFLOW.choices):
        assert all(f"`{value}`" in text for value in values), values


def test_relative_links_resolve() -> None:
    for document in WITH_COMMANDS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", document.read_text()):
            assert (document.parent / target).exists(), f"{document.name} links to missing {target}"


def test_no_references_to_documents_the_reader_does_not_have() -> None:
    for document in (*NEWCOMER, DOCS / "agents.md"):
        text = document.read_text()
        assert not re.search(r"(contract|spec-format) §", text), document.name


def test_examples_the_docs_name_exist() -> None:
    for document in WITH_COMMANDS:
        for name in re.findall(r"examples/[\w/]+\.yaml", document.read_text()):
            assert (ROOT / name).is_file(), f"{document.name} names missing {name}"
