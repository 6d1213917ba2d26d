"""The browsable API reference: Swagger UI at ``/docs`` over ``/openapi.json``, and a small index
at ``/`` (API Gateway would otherwise answer 403 "Missing Authentication Token" there).

Swagger UI's files come from the ``swagger-ui-py`` package (a runtime requirement, so they ship
in the Lambda bundle) and are served by these routes: the page loads nothing from a CDN.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from chalice import Response
from pydantic import BaseModel

from chalicelib.core.errors import NotFound
from chalicelib.core.http import Api, Call

api = Api(__name__, tag="spine")

# The only files the page needs, and how they are served (long cache: they change with a deploy).
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Muda API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
    });
  </script>
</body>
</html>
"""


class Index(BaseModel):
    name: str
    docs: str
    openapi: str
    health: str
    console: str
    portal: str


@cache
def _static_dir() -> Path | None:
    """``swagger_ui/static`` of the installed package, found without importing it (its
    ``__init__`` pulls in Jinja and its web-framework glue, which we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def _asset(name: str) -> str:
    folder = _static_dir()
    if folder is None or not (folder / name).is_file():
        raise NotFound(f"{name} is not installed (pip install swagger-ui-py)")
    return (folder / name).read_text(encoding="utf-8")


@api.route("/", response=Index, roles=None)
def index(call: Call) -> Index:
    """Where things are: the API reference, the OpenAPI document, the health check, the
    operations console and the captive portal."""
    return Index(
        name="Muda",
        docs="/docs",
        openapi="/openapi.json",
        health="/health",
        console="/admin",
        portal="/portal",
    )


@api.route("/docs", roles=None, content_type="text/html; charset=utf-8")
def docs(call: Call) -> str:
    """The API reference (Swagger UI) of ``/openapi.json``; every asset served from here."""
    return PAGE


@api.route("/docs/{asset}", roles=None, content_type="text/javascript; charset=utf-8")
def docs_asset(call: Call, asset: str) -> Response:
    """One of Swagger UI's files (its script, preset and stylesheet)."""
    if asset not in ASSETS:
        raise NotFound(f"no asset {asset}")
    return Response(
        body=_asset(asset),
        status_code=200,
        headers={"Content-Type": ASSETS[asset], "Cache-Control": "public, max-age=86400"},
    )
