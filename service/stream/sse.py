"""Server-sent events over Flask: who asked for them, framing, and running a computation behind a stream.

The computation runs in a thread of its own and emits into :class:`~service.stream.events.Events`; the
response generator drains them, sending a comment line as a keep-alive when nothing happened for a while
(a write to a client that left fails, which is how its leaving is noticed). When the generator is closed
before the computation ended (the client disconnected), the computation is cancelled: the provider
closes its upstream connection (see :class:`service.provider.base.StreamSink`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from flask import Response, request
from pydantic import BaseModel

from service.errors import ClientError, ServiceUnavailable
from service.provider.base import StreamCancelled
from service.stream.events import Events
from service.stream.output import OutputStream

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
KEEPALIVE_S = 1.0


def wants_stream() -> bool:
    """Whether the client's Accept header names ``text/event-stream`` (a wildcard does not ask for a stream)."""
    return any(mimetype == EVENT_STREAM and quality > 0 for mimetype, quality in request.accept_mimetypes)


def frame(name: str, data: dict[str, Any]) -> bytes:
    """One server-sent event: ``event:`` and one ``data:`` line of JSON (which never holds a raw newline)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_data(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ClientError):
        return {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}
    if isinstance(exc, ServiceUnavailable):
        return {"error": {"code": exc.code, "message": exc.message, "field": None}}
    return {"error": {"code": "internal_error", "message": "internal error; see the server log for this request id", "field": None}}


def stream_response(
    compute: Callable[[OutputStream], BaseModel],
    *,
    text_field: str,
    request_id: str,
    headers: dict[str, str] | None = None,
    keepalive_s: float = KEEPALIVE_S,
) -> Response:
    """An event-stream response for ``compute(stream)``, whose return value becomes the ``done`` event.

    ``text_field`` names the answer's text (``summary``/``reply``): its deltas are events of that name.
    """
    events = Events()
    out = OutputStream(events, text_event=text_field)

    def work() -> None:
        try:
            answer = compute(out)
            body = answer.model_dump(mode="json")
            out.finish(body.get("items", []), body.get(text_field) or "")
            events.emit("done", body)
        except StreamCancelled:
            pass
        except (ClientError, ServiceUnavailable) as exc:
            events.emit("error", error_data(exc))
        except Exception as exc:  # noqa: BLE001 - the stream ends in an error event, never a dangling socket
            log.exception("streamed request failed", extra={"request_id": request_id})
            events.emit("error", error_data(exc))
        finally:
            events.close()

    thread = threading.Thread(target=work, name=f"stream-{request_id[:8]}", daemon=True)

    def body() -> Iterator[bytes]:
        thread.start()
        ended = False
        try:
            yield b": stream open\n\n"  # the headers and a first byte leave now
            while True:
                event = events.next(keepalive_s)
                if event is None:
                    ended = True
                    return
                name, data = event
                yield frame(name, data) if name else b": keep-alive\n\n"
        finally:
            if not ended:  # the client went away (or the server is closing the response): stop the work
                events.cancel()

    response = Response(body(), mimetype=EVENT_STREAM, headers=headers)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
