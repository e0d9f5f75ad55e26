"""The console: server-rendered pages for operators and reviewers, on the API's own use cases.

Pages read through the same queries and views as the JSON API and act through the same use
cases, so they enforce the same scopes and validation; everything shown is redacted the same
way. Templates, CSS and the little JavaScript ship with the package (no CDN).
"""

from __future__ import annotations

from kneo.web.console import pages_admin, pages_human, pages_runs, pages_session
from kneo.web.console.blueprint import bp

__all__ = ["bp", "pages_admin", "pages_human", "pages_runs", "pages_session"]
