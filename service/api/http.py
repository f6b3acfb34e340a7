"""HTTP plumbing shared by every view: request ids, JSON bodies, JSON responses and errors."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any, TypeVar

import orjson
from flask import Flask, Response, g, request
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.errors import ClientError, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from service.ops.trace import RequestTrace
from service.validate.base import parse_body

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id() -> str:
    """The client's X-Request-ID when it is a safe token, else a fresh one; fixed for the request."""
    rid = g.get("request_id")
    if rid is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        rid = sent if _SAFE_REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.request_id = rid
    return rid


def request_trace() -> RequestTrace:
    """This request's trace (what the access log reports), created on first use."""
    trace = g.get("trace")
    if trace is None:
        trace = g.trace = RequestTrace()
    return trace


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body.model_dump_json().encode() if isinstance(body, BaseModel) else orjson.dumps(body)
    return Response(data, status=status, headers=headers, mimetype="application/json")


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "field": field}}, status)


def read_body(model: type[M]) -> M:
    """The request body validated as ``model``.

    :raises ClientError: 415 for a non-JSON content type, 413 for an oversized body, 400 for anything invalid.
    """
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"content type must be application/json, not {mimetype}")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"body exceeds {request.max_content_length} bytes") from None
    return parse_body(model, body)


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as ``{"error": {code, message, field}}``; nothing leaks a stack trace."""

    @app.errorhandler(ClientError)
    def _client_error(exc: ClientError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        return error_response(413, "payload_too_large", f"body exceeds {request.max_content_length} bytes")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return error_response(500, "internal_error", "internal error; see the server log for this request id")
