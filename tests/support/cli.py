"""Reading the CLI's ``Label  value`` blocks in tests."""

from __future__ import annotations

import re


def field(text: str, label: str) -> str | None:
    """The value printed after ``label`` in a ``Label  value`` block (None when absent)."""
    found = re.search(rf"^{re.escape(label)}  +(.*)$", text, re.MULTILINE)
    return found.group(1) if found else None
