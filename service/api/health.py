"""Liveness, readiness and the API's own documentation."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, send_from_directory

from service.api.http import json_response
from service.api.openapi import Endpoint
from service.respond.common import Health, Readiness

# Public: probes must work without a key, and the documentation describes how to get one.
ENDPOINTS = [
    Endpoint("GET", "/healthz", "Liveness: the process answers", "ops", Health, scope=None),
    Endpoint(
        "GET",
        "/readyz",
        "Readiness: catalog, cache, providers and auth mode",
        "ops",
        Readiness,
        extra_responses={"503": "Not ready."},
        scope=None,
    ),
    Endpoint("GET", "/openapi.json", "This OpenAPI document", "ops", None, scope=None),
    Endpoint("GET", "/docs", "Interactive API documentation", "ops", None, response_media="text/html", scope=None),
    Endpoint("GET", "/docs/static/{name}", "Swagger UI files", "ops", None, scope=None, hidden=True),
]

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shopguide API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def health_blueprint(readiness: Callable[[], Readiness], openapi: Callable[[], dict]) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return json_response(Health())

    @bp.get("/readyz")
    def readyz() -> Response:
        state = readiness()
        return json_response(state, status=200 if state.ready else 503)

    @bp.get("/openapi.json")
    def openapi_json() -> Response:
        return json_response(openapi())

    @bp.get("/docs")
    def docs() -> Response:
        return Response(_DOCS_PAGE, mimetype="text/html")

    @bp.get("/docs/static/<path:name>")
    def docs_static(name: str) -> Response:
        import swagger_ui_bundle  # the Swagger UI files ship in this package, so /docs works offline

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, name)

    return bp
