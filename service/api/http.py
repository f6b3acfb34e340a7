"""HTTP plumbing shared by every view: request ids, JSON bodies, JSON responses and errors."""

from __future__ import annotations

import io
import logging
import re
import uuid
from typing import Any, TypeVar

import orjson
from flask import Flask, Response, g, has_request_context, request
from pydantic import BaseModel
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import PathConverter

from service.errors import ClientError, InvalidRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from service.ops.trace import RequestTrace
from service.validate.base import parse_body

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class AnyTextConverter(PathConverter):
    """``<text:name>``: a path segment of any characters, slashes and line breaks included.

    Werkzeug's ``path`` converter is ``[^/].*?``, whose ``.`` stops at a line break, so an id holding one
    never reached its route (a 404 the operation does not document); ids are data, the handler judges them.
    """

    regex = r"[^/](?s:.)*?"


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
    """The one error shape, ``{"error": {code, message, field, request_id}}`` (issue 14 item 11: the id is in the body too)."""
    rid = request_id() if has_request_context() else uuid.uuid4().hex
    return json_response({"error": {"code": code, "message": message, "field": field, "request_id": rid}}, status)


try:  # what gunicorn raises while decoding a chunked body the client got wrong
    from gunicorn.http.errors import NoMoreData as _NoMoreData
    from gunicorn.http.errors import ParseException as _ParseException

    _BAD_STREAM: tuple[type[BaseException], ...] = (_ParseException, _NoMoreData)
except ImportError:  # pragma: no cover - gunicorn is a dependency; other WSGI servers raise their own
    _BAD_STREAM = ()
_READ_PIECE = 64 * 1024


def buffer_streamed_body(limit: int) -> None:
    """Read a body sent without ``Content-Length`` (chunked) whole, before any view sees it.

    Werkzeug caps such a stream at ``MAX_CONTENT_LENGTH`` by silently stopping there, so a view
    would parse the first 64 KB of a larger body as if it were all (issue 13 item 2), and a chunk
    framing error surfaced from deep inside ``get_data`` as a 500 (item 1). Here the limit holds
    exactly as for ``Content-Length``: one byte over is a 413; a malformed chunk, or a body cut off
    mid-chunk, is a 400. What passes is handed on as an ordinary body of known length.

    :raises PayloadTooLarge: the body is longer than ``limit`` bytes.
    :raises InvalidRequest: the chunked framing is broken.
    """
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    stream = environ["wsgi.input"]
    pieces: list[bytes] = []
    size = 0
    try:
        while True:
            piece = stream.read(min(_READ_PIECE, limit + 1 - size))
            if not piece:
                break
            size += len(piece)
            if size > limit:
                raise PayloadTooLarge(f"body exceeds {limit} bytes", field="body")
            pieces.append(piece)
    except _BAD_STREAM as exc:
        raise InvalidRequest(f"malformed chunked request body: {type(exc).__name__}", field="body") from None
    environ["wsgi.input"] = io.BytesIO(b"".join(pieces))
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)


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
    """Every error leaves as ``{"error": {code, message, field, request_id}}``; nothing leaks a stack trace."""

    @app.errorhandler(ClientError)
    def _client_error(exc: ClientError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

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
        return error_response(500, "internal_error", "internal error; the server log has details under this request_id")
