"""``shopguide local serve``'s HTTP side: OpenAI's chat-completions protocol over the :class:`Engine`.

ASGI (Starlette under uvicorn, one process): thousands of waiting connections cost
nothing, and a client that hangs up is noticed (``http.disconnect``), so its request
leaves the queue, or its row leaves the running batch, instead of being generated for
nobody. The model itself runs on the batcher's worker thread.

- ``POST /v1/chat/completions``: ``response_format`` ``json_schema`` / ``json_object``
  (constrained decoding), ``stream`` (server-sent events), ``max_tokens``,
  ``temperature``, ``stop``. A full queue answers 429 with ``Retry-After``; a server
  still loading answers 503 with ``Retry-After``.
- ``GET /v1/models``, ``GET /healthz`` (200 once loaded and warmed, else 503), ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from service.errors import ProviderError, ProviderUnavailable, UpstreamTimeout
from service.local_server.engine import Engine
from service.local_server.protocol import (
    TIMEOUT_HEADER,
    AnswerMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    Usage,
    error_body,
)
from service.provider.base import ChatRequest
from service.provider.local.generate import Generation, RowHooks

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.25


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body.model_dump(mode="json", exclude_none=False) if hasattr(body, "model_dump") else body
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, *, kind: str, param: str | None = None, retry_after: float | None = None) -> Response:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return _json(error_body(message, kind=kind, param=param), status, headers)


def _finish_reason(generation: Generation) -> str:
    return "length" if generation.finish == "length" else "stop"


class _Call:
    """One request's life: its hooks for the generator, cancellation, and (streaming) its text queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stops: tuple[str, ...], stream: bool) -> None:
        self._loop = loop
        self._cancelled = threading.Event()
        self.texts: asyncio.Queue[str] | None = asyncio.Queue() if stream else None
        self.first_text_at: float | None = None
        self.hooks = RowHooks(
            on_text=self._on_text if stream else None, cancelled=self._cancelled.is_set, stop=stops
        )

    def _on_text(self, text: str) -> None:  # on the model's worker thread
        if self.first_text_at is None:
            self.first_text_at = time.monotonic()
        self._loop.call_soon_threadsafe(self.texts.put_nowait, text)  # type: ignore[union-attr]

    def cancel(self) -> None:
        self._cancelled.set()


def create_server_app(engine: Engine) -> Starlette:
    """The model server's ASGI app around ``engine`` (which the caller starts and closes)."""
    metrics = engine.metrics

    async def healthz(request: Request) -> Response:
        health = engine.health()
        return _json(health, 200 if engine.state == "ready" else 503)

    async def models(request: Request) -> Response:
        card = ModelCard(id=engine.model_name, created=int(engine.started))
        return _json(ModelList(data=[card]))

    async def metrics_view(request: Request) -> Response:
        metrics.queue_depth.set(engine.provider.queue_depth)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def chat_completions(request: Request) -> Response:
        started = time.monotonic()
        try:
            body = ChatCompletionRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            metrics.requests.labels("bad_request").inc()
            error = exc.errors(include_url=False)[0]
            param = ".".join(str(part) for part in error["loc"]) or None
            return _error(400, f"{param}: {error['msg']}" if param else error["msg"], kind="invalid_request_error", param=param)
        if engine.state != "ready":
            metrics.requests.labels("not_ready").inc()
            if engine.state == "failed":
                return _error(503, f"model failed to load: {engine.error}", kind="server_error")
            return _error(503, "model is loading", kind="server_error", retry_after=5)
        timeout = engine.request_timeout_s
        with contextlib.suppress(ValueError, TypeError):
            timeout = min(timeout, max(0.05, float(request.headers.get(TIMEOUT_HEADER, timeout))))
        grammar = body.response_format.grammar() if body.response_format else None
        chat = ChatRequest(
            messages=tuple(message.chat() for message in body.messages),
            schema_name=(body.response_format.json_schema.name if body.response_format and body.response_format.json_schema else "output"),
            schema=grammar or {},
            grammar_schema=grammar,
            deadline=started + timeout,
            temperature=body.temperature if body.temperature is not None else engine.default_temperature,
            max_tokens=body.token_budget(engine.max_new_tokens),
            endpoint="server",
        )
        call = _Call(asyncio.get_running_loop(), body.stop_strings(), body.stream)
        try:
            job = engine.provider.submit(chat, call.hooks)
        except ProviderUnavailable as exc:
            if "queue full" in str(exc):
                metrics.requests.labels("queue_full").inc()
                return _error(429, str(exc), kind="rate_limit_exceeded", retry_after=engine.provider.retry_after_s())
            metrics.requests.labels("unavailable").inc()
            return _error(503, str(exc), kind="server_error", retry_after=5)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(engine, job, call, completion_id, include_usage, started),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        result = await _wait(request, engine, job, call)
        if isinstance(result, Response):
            return result
        metrics.latency.observe(time.monotonic() - started)
        metrics.requests.labels(_finish_reason(result)).inc()
        _count(engine, result)
        answer = ChatCompletion(
            id=completion_id,
            model=engine.model_name,
            choices=[Choice(message=AnswerMessage(content=result.text), finish_reason=_finish_reason(result))],
            usage=Usage(prompt_tokens=result.tokens_in, completion_tokens=result.tokens_out,
                        total_tokens=result.tokens_in + result.tokens_out),
        )
        return _json(answer)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_view, methods=["GET"]),
        ]
    )


def _count(engine: Engine, result: Generation) -> None:
    engine.metrics.prompt_tokens.inc(result.tokens_in)
    engine.metrics.completion_tokens.inc(result.tokens_out)


def _failure(engine: Engine, exc: BaseException) -> Response:
    if isinstance(exc, UpstreamTimeout | ProviderUnavailable) and "deadline" in str(exc):
        engine.metrics.requests.labels("deadline").inc()
        return _error(504, str(exc), kind="timeout")
    if isinstance(exc, ProviderUnavailable):
        engine.metrics.requests.labels("unavailable").inc()
        return _error(503, str(exc), kind="server_error", retry_after=5)
    engine.metrics.requests.labels("error").inc()
    message = str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
    return _error(500, message, kind="server_error")


async def _wait(request: Request, engine: Engine, job: Any, call: _Call) -> Generation | Response:
    """The job's result; a client that hangs up meanwhile takes its job out of the queue or the batch."""
    future = asyncio.wrap_future(job.future)
    while True:
        done, _ = await asyncio.wait({future}, timeout=DISCONNECT_POLL_S)
        if done:
            break
        if time.monotonic() > job.deadline and engine.provider.cancel(job):
            engine.metrics.requests.labels("deadline").inc()
            return _error(504, "deadline passed while waiting for the model", kind="timeout")
        if await request.is_disconnected():
            call.cancel()
            engine.provider.cancel(job)
            engine.metrics.requests.labels("client_gone").inc()
            log.info("client went away; request dropped")
            return Response(status_code=499)
    try:
        return future.result()
    except asyncio.CancelledError:
        engine.metrics.requests.labels("client_gone").inc()
        return Response(status_code=499)
    except Exception as exc:  # noqa: BLE001 - the row's error, mapped to an HTTP status
        return _failure(engine, exc)


def _sse(data: Any) -> bytes:
    payload = data.model_dump(mode="json", exclude_none=True) if hasattr(data, "model_dump") else data
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _stream(
    engine: Engine, job: Any, call: _Call, completion_id: str, include_usage: bool, started: float
) -> AsyncIterator[bytes]:
    """Server-sent events as OpenAI sends them: a role chunk, content deltas, a finish chunk, ``[DONE]``.

    Starlette cancels this generator when the client disconnects; ``finally`` then drops the job.
    """
    model = engine.model_name
    texts = call.texts
    assert texts is not None
    future = asyncio.wrap_future(job.future)
    finished = False
    try:
        yield _sse(ChatCompletionChunk(id=completion_id, model=model,
                                       choices=[ChunkChoice(delta=Delta(role="assistant", content=""))]))
        while True:
            getter = asyncio.ensure_future(texts.get())
            done, _ = await asyncio.wait({getter, future}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield _sse(ChatCompletionChunk(id=completion_id, model=model,
                                               choices=[ChunkChoice(delta=Delta(content=getter.result()))]))
                continue
            getter.cancel()
            break
        while not texts.empty():  # what the worker sent before it finished
            yield _sse(ChatCompletionChunk(id=completion_id, model=model,
                                           choices=[ChunkChoice(delta=Delta(content=texts.get_nowait()))]))
        finished = True
        try:
            result: Generation = future.result()
        except Exception as exc:  # noqa: BLE001 - reported in the stream, as OpenAI does mid-stream
            failure = _failure(engine, exc)
            yield _sse(orjson.loads(failure.body))
            yield b"data: [DONE]\n\n"
            return
        if call.first_text_at is not None:
            engine.metrics.first_token.observe(call.first_text_at - started)
        engine.metrics.latency.observe(time.monotonic() - started)
        engine.metrics.requests.labels(_finish_reason(result)).inc()
        _count(engine, result)
        yield _sse(ChatCompletionChunk(id=completion_id, model=model,
                                       choices=[ChunkChoice(delta=Delta(), finish_reason=_finish_reason(result))]))
        if include_usage:
            usage = Usage(prompt_tokens=result.tokens_in, completion_tokens=result.tokens_out,
                          total_tokens=result.tokens_in + result.tokens_out)
            yield _sse(ChatCompletionChunk(id=completion_id, model=model, choices=[], usage=usage))
        yield b"data: [DONE]\n\n"
    finally:
        if not finished:
            call.cancel()
            engine.provider.cancel(job)
            engine.metrics.requests.labels("client_gone").inc()
