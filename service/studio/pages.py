"""The HTML pages and their static files. The shells are public (they hold no data); the data they show comes
from the JSON API with the user's key."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_from_directory

from service.api.openapi import Endpoint

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

ENDPOINTS = [
    Endpoint("GET", "/studio", "Copy studio (HTML page)", "copy", None, response_media="text/html", scope=None, hidden=True),
    Endpoint("GET", "/demo", "Storefront demo (HTML page)", "recommend", None, response_media="text/html", scope=None, hidden=True),
    Endpoint("GET", "/ops", "Ops view (HTML page)", "ops", None, response_media="text/html", scope=None, hidden=True),
    Endpoint("GET", "/ui/static/{name}", "Page assets", "ops", None, scope=None, hidden=True),
]

_CSP = (
    "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def pages_blueprint(*, auth_mode: str, version: str) -> Blueprint:
    bp = Blueprint("pages", __name__, template_folder=str(TEMPLATES_DIR))

    def page(name: str, title_en: str, title_zh: str) -> Response:
        html = render_template(
            f"{name}.html", page=name, auth_mode=auth_mode, version=version, title_en=title_en, title_zh=title_zh
        )
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/studio")
    def studio() -> Response:
        return page("studio", "Copy studio", "文案工作台")

    @bp.get("/demo")
    def demo() -> Response:
        return page("demo", "Storefront demo", "导购演示")

    @bp.get("/ops")
    def ops() -> Response:
        return page("ops", "Ops", "运维")

    @bp.get("/ui/static/<path:name>")
    def static(name: str) -> Response:
        if "/" in name or name.startswith("."):
            abort(404)
        response = send_from_directory(STATIC_DIR, name, max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return bp
