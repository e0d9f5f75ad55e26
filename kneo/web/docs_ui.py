"""Swagger UI at ``/docs``, ReDoc at ``/redoc`` and an index at ``/``, from files the package ships.

Both pages load only assets served by this blueprint (``/docs/assets/…``), so they render on a
machine without network access. The assets are the unmodified upstream builds (licences beside them).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, redirect, request, send_from_directory

from kneo import __version__

STATIC = Path(__file__).parent / "static"
bp = Blueprint("docs_ui", __name__)

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>kneo API — Swagger UI</title>
  <link rel="icon" type="image/png" href="/docs/assets/swagger-ui/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""

# A separate file, not inline code: the page keeps working under a strict Content-Security-Policy.
SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
});
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>kneo API — ReDoc</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
  <script src="/docs/assets/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def _html(page: str) -> Response:
    return Response(page, mimetype="text/html")


@bp.get("/")
def index() -> Response:
    """Where to go next: a browser goes to the console; API clients get the map as JSON."""
    if _prefers_html():
        return redirect("/console/")  # type: ignore[return-value]
    return jsonify(
        console="/console/",
        service="kneo",
        version=__version__,
        docs="/docs",
        redoc="/redoc",
        openapi="/openapi.json",
        health="/healthz",
        ready="/readyz",
        api="/v1",
    )


def _prefers_html() -> bool:
    accepted = request.accept_mimetypes
    return accepted.accept_html and accepted["text/html"] > accepted["application/json"]


@bp.get("/docs")
def swagger_ui() -> Response:
    return _html(SWAGGER_PAGE)


@bp.get("/redoc")
def redoc() -> Response:
    return _html(REDOC_PAGE)


@bp.get("/docs/assets/swagger-init.js")
def swagger_init() -> Response:
    return Response(SWAGGER_INIT, mimetype="text/javascript")


@bp.get("/docs/assets/<path:name>")
def asset(name: str) -> Response:
    """A shipped asset, cached for a day (404 for anything else)."""
    return send_from_directory(STATIC, name, max_age=86_400)
