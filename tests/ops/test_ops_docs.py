"""docs/operations covers every chapter and every numbered troubleshooting entry of the 0.4 guide."""

from __future__ import annotations

import re

from tests.support.services import ROOT

OPS = ROOT / "docs" / "operations"
# Chapter of the 0.4 operation guide → kneo's page.
CHAPTERS = {
    "Deployment": "deployment.md",
    "TLS and reverse proxy": "tls-and-proxy.md",
    "Security hardening": "security.md",
    "Observability": "observability.md",
    "Backup and recovery": "backup-and-recovery.md",
    "Upgrade guide": "upgrade.md",
    "Incident response": "incident-response.md",
    "Troubleshooting": "troubleshooting.md",
    "Deployment smoke test": "smoke-test.md",
}
# The guide's numbered troubleshooting entries (section → entries).
ENTRIES = {1: 4, 2: 5, 3: 3, 4: 3, 5: 5, 6: 3, 7: 3, 8: 2}


def test_every_chapter_has_a_page_linked_from_the_index() -> None:
    index = (OPS / "README.md").read_text()
    for page in CHAPTERS.values():
        assert (OPS / page).is_file(), page
        assert f"]({page})" in index, f"README.md does not link {page}"


def test_every_numbered_troubleshooting_entry_is_covered() -> None:
    text = (OPS / "troubleshooting.md").read_text()
    headings = set(re.findall(r"^### (\d+\.\d+) ", text, re.M))
    expected = {f"{section}.{n}" for section, count in ENTRIES.items() for n in range(1, count + 1)}
    assert expected <= headings, sorted(expected - headings)
    assert re.search(r"^## 9\. ", text, re.M), "release and supply chain"
    for section in range(1, 9):
        assert re.search(rf"^## {section}\. ", text, re.M), f"section {section}"


def test_relative_links_point_at_existing_pages() -> None:
    for page in OPS.glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9_.-]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (OPS / target).is_file(), f"{page.name} links to missing {target}"
