"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

Real HTTP (stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, TCP_NODELAY, one
``send`` per response) so the openai SDK, its retries and timeouts run exactly as
against the hosted API. Tests script what the next requests get and assert on what
the server saw::

    with OpenAIUpstream() as up:
        up.script(status(429, retry_after=1), reply({"items": []}))
        client = openai.OpenAI(base_url=up.base_url, api_key="test", max_retries=0)
        ...
        assert up.calls == 2 and up.requests[-1].model == "gpt-4o-mini"

A request with ``"stream": true`` gets server-sent events framed as OpenAI's
(``chat.completion.chunk`` frames, then ``data: [DONE]``), paced by a time to first
token and a token rate, and a stream can be scripted to break part way::

    up.set_stream(ttft_s=0.3, tokens_per_s=50)
    up.script(stream(answer, fault=cut_after(5)))   # the connection dies after 5 tokens

Each streamed answer is recorded (:attr:`OpenAIUpstream.streams`): how many tokens went out and how it
ended, ``complete``, ``fault`` (a scripted break), ``client_closed`` (the client hung up mid-stream: a
write failed) or ``released`` (``reset()``/``stop()``)::

    assert up.streams[-1].outcome == "client_closed" and up.streams[-1].sent < up.streams[-1].total

Standalone (benchmarks run it in its own process)::

    python -m tests.support.openai_upstream --port 8099 --latency 0.2 --ttft 0.3 --tokens-per-s 50
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import re
import secrets
import signal
import socket
import socketserver
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
# Paths end in these, after any gateway prefix (``/v1``, ``/gateway/openai/v1``, none).
CHAT_SUFFIX = "/chat/completions"
MODELS_SUFFIX = "/models"
MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")

# OpenAI's error ``type``/``code`` per status, so SDK-side error mapping sees realistic bodies.
_ERROR_KINDS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def error_body(code: int, message: str | None = None, *, err_type: str | None = None, err_code: str | None = None) -> dict[str, Any]:
    """The OpenAI error envelope ``{"error": {message, type, param, code}}`` for ``code``."""
    kind, default_code, default_message = _ERROR_KINDS.get(
        code, ("server_error" if code >= 500 else "invalid_request_error", None, f"HTTP {code}.")
    )
    return {
        "error": {
            "message": message or default_message,
            "type": err_type or kind,
            "param": None,
            "code": err_code if err_code is not None else default_code,
        }
    }


def estimate_tokens(text: str) -> int:
    """Rough token count (~4 characters a token), enough for plausible ``usage`` numbers."""
    return max(1, len(text) // 4)


Content = str | dict[str, Any] | list[Any]


def content_text(content: Content) -> str:
    """Message content as sent: a string verbatim, anything else JSON-encoded."""
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def usage_payload(body: Mapping[str, Any], text: str, usage: Mapping[str, int] | None = None) -> dict[str, int]:
    """Plausible ``usage`` for answering ``body`` with ``text``; ``usage`` overrides any count."""
    messages = body.get("messages") or []
    prompt_tokens = estimate_tokens("".join(str(m.get("content", "")) for m in messages if isinstance(m, dict)))
    completion_tokens = estimate_tokens(text)
    counted = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if usage:
        counted.update(usage)
        if "total_tokens" not in usage:
            counted["total_tokens"] = counted["prompt_tokens"] + counted["completion_tokens"]
    return counted


def completion_payload(body: Mapping[str, Any], content: Content,
                       finish_reason: str = "stop", usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A ``chat.completion`` object answering ``body`` with ``content``, with plausible ``usage``."""
    text = content_text(content)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", MODEL_IDS[0]),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason,
        }],
        "usage": usage_payload(body, text, usage),
        "system_fingerprint": "fp_scripted",
    }


# One streamed token: a word piece of up to 4 letters/digits with its leading space, or one other character
# (a CJK character, a punctuation mark); the pieces of a text join back to exactly that text.
_TOKEN = re.compile(r"\s*[A-Za-z0-9_]{1,4}|\s*[^\sA-Za-z0-9_]|\s+")


def stream_tokens(text: str) -> list[str]:
    """How ``text`` is cut into streamed deltas, one token each."""
    return _TOKEN.findall(text)


class ChunkFrames:
    """The ``chat.completion.chunk`` objects of one streamed answer, as OpenAI sends them.

    Every frame carries the same id, created and model; with ``stream_options.include_usage``
    every frame has ``"usage": null`` and a last frame with no choices carries the usage;
    unless ``stream_options.include_obfuscation`` is false, each has an ``obfuscation`` pad.
    """

    def __init__(self, body: Mapping[str, Any]) -> None:
        options = body.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))
        self.obfuscate = options.get("include_obfuscation", True) is not False
        self._base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", MODEL_IDS[0]),
            "service_tier": "default",
            "system_fingerprint": "fp_scripted",
        }

    def _frame(self, choices: list[dict[str, Any]], usage: Mapping[str, int] | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {**self._base, "choices": choices}
        if self.include_usage:
            frame["usage"] = dict(usage) if usage is not None else None
        if self.obfuscate:
            frame["obfuscation"] = secrets.token_urlsafe(6)
        return frame

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def role(self) -> dict[str, Any]:
        """The first frame: the assistant role and empty content."""
        return self.delta({"role": "assistant", "content": "", "refusal": None})

    def content(self, piece: str) -> dict[str, Any]:
        return self.delta({"content": piece})

    def finish(self, finish_reason: str) -> dict[str, Any]:
        return self.delta({}, finish_reason)

    def usage(self, usage: Mapping[str, int]) -> dict[str, Any]:
        """The last frame before ``[DONE]`` when usage was asked for: no choices."""
        return self._frame([], usage)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Pace:
    """How fast a stream comes: seconds to the first token, then tokens per second (None: at once)."""

    ttft_s: float = 0.0
    tokens_per_s: float | None = None

    def __post_init__(self) -> None:
        if self.ttft_s < 0 or (self.tokens_per_s is not None and self.tokens_per_s <= 0):
            raise ValueError(f"ttft_s must be >= 0 and tokens_per_s > 0, got {self}")


@dataclass(frozen=True)
class StreamFault:
    """How a stream breaks once ``after`` content tokens have been sent.

    - ``cut``: the connection closes mid-body (no final chunk, no ``[DONE]``): a transport error;
    - ``end``: the body ends cleanly but early (no ``finish_reason``, no ``[DONE]``): only a client
      that checks for them notices;
    - ``malformed``: one frame whose data is not JSON, then the rest of the stream;
    - ``error``: an ``{"error": {...}}`` frame as OpenAI sends when generation fails mid-way, then the end.
    """

    kind: str
    after: int
    text: str = ""
    code: int = 500

    def __post_init__(self) -> None:
        if self.kind not in ("cut", "end", "malformed", "error") or self.after < 0:
            raise ValueError(f"bad stream fault {self}")


def cut_after(tokens: int, *, clean: bool = False) -> StreamFault:
    """The stream stops after ``tokens`` tokens: the connection dies (or, ``clean``, the body just ends)."""
    return StreamFault("end" if clean else "cut", tokens)


def malformed_after(tokens: int, text: str = '{"id": "chatcmpl-broken", "choices": [{"delta": {"cont') -> StreamFault:
    """After ``tokens`` tokens, a frame whose data is ``text`` (by default truncated JSON)."""
    return StreamFault("malformed", tokens, text=text)


def error_after(tokens: int, *, code: int = 500, message: str | None = None) -> StreamFault:
    """After ``tokens`` tokens, OpenAI's mid-stream error frame (the error envelope of ``code``)."""
    return StreamFault("error", tokens, text=message or "", code=code)


@dataclass
class StreamRecord:
    """How one streamed answer went: tokens sent of ``total``, and how it ``outcome``-ed (see the module doc)."""

    total: int
    sent: int = 0
    outcome: str = "streaming"
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None

    def end(self, outcome: str) -> None:
        self.outcome = outcome
        self.ended_at = time.monotonic()


class _Exchange:
    """One chat-completions request being answered; what a step may do with it."""

    def __init__(self, handler: _Handler, body: dict[str, Any], release: threading.Event,
                 default: Step | None = None, pace: Pace = Pace(),
                 on_stream: Callable[[StreamRecord], None] | None = None, pace_whole: bool = False) -> None:
        self._handler = handler
        self.pace_whole = pace_whole  # unstreamed answers take the stream's time too
        self._on_stream = on_stream
        self.body = body
        self._release = release
        self.default = default  # what delay(then=None) serves
        self.pace = pace  # the server's stream pace, unless a step sets its own
        self.streaming = bool(body.get("stream")) if isinstance(body, dict) else False

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when cut short by ``reset()``/``stop()`` (then drop)."""
        return seconds > 0 and self._release.wait(seconds)

    def hang(self) -> None:
        self._release.wait()
        self.drop()

    def answer_with(self, step: Step | None) -> None:
        """Serve ``step``, or (None) the server's default step; drop the connection when there is neither."""
        step = step or self.default
        if step is None:
            self.drop()
        else:
            step.serve(self)

    @property
    def released(self) -> bool:
        """Whether ``reset()``/``stop()`` has let go of this request."""
        return self._release.is_set()

    def drop(self) -> None:
        self._handler.close_connection = True
        try:
            self._handler.wfile.flush()
        except OSError:
            pass
        try:
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _start(self, code: int, content_type: str, headers: Mapping[str, str] | None) -> None:
        h = self._handler
        h.send_response(code)
        h.send_header("Content-Type", content_type)
        h.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            h.send_header(name, value)

    def send(self, code: int, payload: bytes, *, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> None:
        self._start(code, content_type, headers)
        self._handler.send_header("Content-Length", str(len(payload)))
        self._handler.end_headers()
        self._handler.wfile.write(payload)  # buffered (wbufsize): headers and body leave in one send

    def send_json(self, code: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(code, json.dumps(obj, ensure_ascii=False).encode(), headers=headers)

    def send_completion(self, content: Content, finish_reason: str, usage: Mapping[str, int] | None,
                        pace: Pace | None = None, fault: StreamFault | None = None) -> None:
        """The answer: one JSON completion, or, when the request asked to stream, server-sent events."""
        if self.streaming:
            self.send_stream(content, finish_reason, usage, pace or self.pace, fault)
            return
        pace = pace or self.pace
        if self.pace_whole and (pace.ttft_s or pace.tokens_per_s):
            # a model takes as long to write an answer it does not stream: the first token, then every other
            tokens = len(stream_tokens(content_text(content)))
            if self.wait(pace.ttft_s + (tokens / pace.tokens_per_s if pace.tokens_per_s else 0.0)):
                self.drop()
                return
        self.send_json(200, completion_payload(self.body, content, finish_reason, usage))

    # -- server-sent events -----------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk, flushed at once (a client reads each frame as it is produced)."""
        w = self._handler.wfile
        w.write(b"%x\r\n%s\r\n" % (len(data), data))
        w.flush()

    def _event(self, data: str) -> None:
        self._chunk(f"data: {data}\n\n".encode())

    def _end_body(self) -> None:
        w = self._handler.wfile
        w.write(b"0\r\n\r\n")
        w.flush()

    def send_stream(self, content: Content, finish_reason: str, usage: Mapping[str, int] | None,
                    pace: Pace, fault: StreamFault | None = None) -> None:
        """``content`` as OpenAI streams it: a role frame, one frame per token, the finish frame,
        the usage frame (if asked), ``data: [DONE]``; paced by ``pace`` and broken by ``fault``."""
        text = content_text(content)
        frames = ChunkFrames(self.body)
        tokens = stream_tokens(text)
        record = StreamRecord(total=len(tokens))
        if self._on_stream is not None:
            self._on_stream(record)
        self._start(200, "text/event-stream; charset=utf-8", {"Cache-Control": "no-cache"})
        self._handler.send_header("Transfer-Encoding", "chunked")
        self._handler.end_headers()
        try:
            self._event(json.dumps(frames.role(), ensure_ascii=False))
            started = time.monotonic() + pace.ttft_s
            for i, token in enumerate(tokens):
                if fault is not None and i == fault.after and self._break(fault, frames, record):
                    return
                due = started + (i / pace.tokens_per_s if pace.tokens_per_s else 0.0)
                if self.wait(due - time.monotonic()):
                    self.drop()
                    record.end("released")
                    return
                self._event(json.dumps(frames.content(token), ensure_ascii=False))
                record.sent += 1
            if fault is not None and fault.after >= len(tokens) and self._break(fault, frames, record):
                return
            self._event(json.dumps(frames.finish(finish_reason), ensure_ascii=False))
            if frames.include_usage:
                self._event(json.dumps(frames.usage(usage_payload(self.body, text, usage)), ensure_ascii=False))
            self._event("[DONE]")
            self._end_body()
            record.end("complete")
        except OSError:  # the client went away mid-stream (after a malformed frame: because of it)
            self._handler.close_connection = True
            record.end("fault" if fault is not None and record.sent >= fault.after else "client_closed")

    def _break(self, fault: StreamFault, frames: ChunkFrames, record: StreamRecord) -> bool:
        """Apply ``fault``; True when the stream is over (its record then says so before the client can see it)."""
        if fault.kind == "malformed":
            self._event(fault.text)
            return False
        record.end("fault")
        if fault.kind == "cut":
            self.drop()
            return True
        if fault.kind == "end":
            self._end_body()
            return True
        self._event(json.dumps(error_body(fault.code, fault.text or None), ensure_ascii=False))
        self._end_body()
        return True


@dataclass(frozen=True, kw_only=True)
class Step:
    """One scripted answer; ``times`` repeats it that many requests in a row."""

    times: int = 1

    def serve(self, ex: _Exchange) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Reply(Step):
    content: Content
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None

    def serve(self, ex: _Exchange) -> None:
        ex.send_completion(self.content, self.finish_reason, self.usage)


ContentFn = Callable[[dict[str, Any]], "Content | Step"]


@dataclass(frozen=True, kw_only=True)
class ReplyFn(Step):
    fn: ContentFn
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None

    def serve(self, ex: _Exchange) -> None:
        out = self.fn(ex.body)
        if isinstance(out, Step):
            out.serve(ex)
        else:
            ex.send_completion(out, self.finish_reason, self.usage)


@dataclass(frozen=True, kw_only=True)
class Stream(Step):
    """A streamed answer with its own pace and, optionally, a fault; refused (400) to a non-stream request."""

    content: Content | ContentFn
    pace: Pace | None = None
    fault: StreamFault | None = None
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None

    def serve(self, ex: _Exchange) -> None:
        if not ex.streaming:
            ex.send_json(400, error_body(400, "scripted upstream: a stream step met a request without stream=true"))
            return
        content = self.content(ex.body) if callable(self.content) else self.content
        if isinstance(content, Step):
            content.serve(ex)
        else:
            ex.send_stream(content, self.finish_reason, self.usage, self.pace or ex.pace, self.fault)


@dataclass(frozen=True, kw_only=True)
class Status(Step):
    code: int
    body: dict[str, Any] | str | None = None
    headers: Mapping[str, str] | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None

    def serve(self, ex: _Exchange) -> None:
        headers = dict(self.headers or {})
        if self.retry_after is not None:
            ra = self.retry_after
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = str(self.retry_after_ms)
        if isinstance(self.body, str):
            ex.send(self.code, self.body.encode(), headers=headers)
        else:
            ex.send_json(self.code, self.body if self.body is not None else error_body(self.code), headers)


@dataclass(frozen=True, kw_only=True)
class Delay(Step):
    seconds: float
    then: Step | None = None  # None: the server's default step

    def serve(self, ex: _Exchange) -> None:
        if ex.wait(self.seconds):
            ex.drop()
            return
        ex.answer_with(self.then)


@dataclass(frozen=True, kw_only=True)
class Held(Step):
    """Waits until the test calls :meth:`open` (or ``reset()``/``stop()``, which drop it), then answers."""

    then: Step | None = None  # None: the server's default step
    gate: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def open(self) -> None:
        self.gate.set()

    def serve(self, ex: _Exchange) -> None:
        while not self.gate.wait(0.01):
            if ex.released:
                ex.drop()
                return
        ex.answer_with(self.then)


@dataclass(frozen=True, kw_only=True)
class Hang(Step):
    def serve(self, ex: _Exchange) -> None:
        ex.hang()


@dataclass(frozen=True, kw_only=True)
class Drop(Step):
    def serve(self, ex: _Exchange) -> None:
        ex.drop()


@dataclass(frozen=True, kw_only=True)
class Malformed(Step):
    """A body sent verbatim; ``truncate_to`` bytes of it under a Content-Length of the whole (a body cut short)."""

    text: str = "this is not json {"
    code: int = 200
    content_type: str = "application/json"
    truncate_to: int | None = None

    def serve(self, ex: _Exchange) -> None:
        payload = self.text.encode()
        if self.truncate_to is None:
            ex.send(self.code, payload, content_type=self.content_type)
            return
        ex._start(self.code, self.content_type, None)
        ex._handler.send_header("Content-Length", str(len(payload)))
        ex._handler.end_headers()
        ex._handler.wfile.write(payload[: self.truncate_to])
        ex.drop()


def reply(content: Content, *, finish_reason: str = "stop",
          usage: Mapping[str, int] | None = None, times: int = 1) -> Reply:
    """A 200 completion whose message content is ``content`` (dict/list JSON-encoded); streamed at the
    server's pace when the request asked to stream."""
    return Reply(content=content, finish_reason=finish_reason, usage=usage, times=times)


def reply_fn(fn: ContentFn, *, finish_reason: str = "stop", usage: Mapping[str, int] | None = None,
             times: int = 1) -> ReplyFn:
    """A 200 completion whose content is ``fn(request_body)``; ``fn`` may also return a Step."""
    return ReplyFn(fn=fn, finish_reason=finish_reason, usage=usage, times=times)


def stream(content: Content | ContentFn, *, ttft_s: float | None = None, tokens_per_s: float | None = None,
           fault: StreamFault | None = None, finish_reason: str = "stop", usage: Mapping[str, int] | None = None,
           times: int = 1) -> Stream:
    """A streamed answer (``content`` or ``content(request_body)``) at its own pace (unset: the server's),
    broken by ``fault`` (:func:`cut_after`, :func:`malformed_after`, :func:`error_after`)."""
    pace = None
    if ttft_s is not None or tokens_per_s is not None:
        pace = Pace(ttft_s or 0.0, tokens_per_s)
    return Stream(content=content, pace=pace, fault=fault, finish_reason=finish_reason, usage=usage, times=times)


def status(code: int, *, body: dict[str, Any] | str | None = None, headers: Mapping[str, str] | None = None,
           retry_after: float | None = None, retry_after_ms: int | None = None, times: int = 1) -> Status:
    """An HTTP ``code`` answer; ``body`` defaults to OpenAI's error envelope for that code."""
    return Status(code=code, body=body, headers=headers, retry_after=retry_after,
                  retry_after_ms=retry_after_ms, times=times)


def delay(seconds: float, then: Step | None = None, *, times: int = 1) -> Delay:
    """Answer with ``then`` (default: the server's default step) after ``seconds``."""
    if then is not None and then.times != 1:
        raise ValueError("delay(then=...) serves one answer; put times= on the delay")
    return Delay(seconds=seconds, then=then, times=times)


def held(then: Step | None = None, *, times: int = 1) -> Held:
    """Answer with ``then`` (default: the server's default step) once the test calls ``.open()`` on it:
    a request kept in flight for exactly as long as a test needs, no guessed sleep."""
    if then is not None and then.times != 1:
        raise ValueError("held(then=...) serves one answer; put times= on held")
    return Held(then=then, times=times)


def hang(*, times: int = 1) -> Hang:
    """Never answer; the connection is closed at ``reset()``/``stop()``."""
    return Hang(times=times)


def drop(*, times: int = 1) -> Drop:
    """Close the connection without sending a response."""
    return Drop(times=times)


def malformed(text: str = "this is not json {", *, code: int = 200,
              content_type: str = "application/json", times: int = 1) -> Malformed:
    """A response whose body is ``text`` verbatim (not JSON by default)."""
    return Malformed(text=text, code=code, content_type=content_type, times=times)


def truncated(content: Content = "", *, keep: float = 0.5, times: int = 1) -> Malformed:
    """A completion whose body stops part way (``keep`` of its bytes) under the full Content-Length,
    and the connection closes: what a proxy or server dying mid-write looks like."""
    text = json.dumps(completion_payload({}, content), ensure_ascii=False)
    return Malformed(text=text, truncate_to=int(len(text.encode()) * keep), times=times)


def fail_then_succeed(n: int, *, failure: Step | None = None, success: Step | None = None) -> list[Step]:
    """``n`` failures (default ``status(500)``), then ``success`` (default: the server's default step)."""
    fail = replace(failure, times=1) if failure is not None else status(500)
    return [fail] * n + ([success] if success is not None else [])


def refused_base_url() -> str:
    """A loopback ``.../v1`` URL where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    return f"http://{LOOPBACK}:{port}/v1"


# --------------------------------------------------------------------------- recording


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """What the upstream received: headers are lower-cased; ``body`` is parsed JSON or None."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: Any
    raw: bytes = field(repr=False)
    received_at: float  # time.monotonic()
    client_address: tuple[str, int]  # same value on consecutive requests: a reused keep-alive connection

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path.endswith(CHAT_SUFFIX)

    @property
    def stream(self) -> bool:
        """Whether the request asked for a streamed answer."""
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format") if isinstance(self.body, dict) else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


# --------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per response
    wbufsize = 64 * 1024  # flushed after each request: one send() per response
    server: _Server

    def do_POST(self) -> None:
        self.server.upstream._handle(self)

    def do_GET(self) -> None:
        self.server.upstream._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # per-request stderr lines cost time and bury test output


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive clients may hold idle connections; stop() closes them
    request_queue_size = 1024  # default backlog 5 drops SYNs under 100+ concurrent connects

    def __init__(self, address: tuple[str, int], upstream: OpenAIUpstream) -> None:
        self.upstream = upstream
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and left makes the late write fail; that is expected here.
        pass


class OpenAIUpstream:
    """A scripted OpenAI-compatible server on loopback; thread-safe, many concurrent clients."""

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, latency: float = 0.0,
                 default: Step | None = None, ttft_s: float = 0.0, tokens_per_s: float | None = None,
                 pace_unstreamed: bool = False) -> None:
        self._host, self._port = host, port
        self._pace_unstreamed = pace_unstreamed
        self._initial_latency = latency
        self._initial_default = default or reply({})
        self._lock = threading.Lock()
        self._queue: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._streams: list[StreamRecord] = []
        self._latency = latency
        self._initial_pace = Pace(ttft_s, tokens_per_s)
        self._pace = self._initial_pace
        self._default = self._initial_default
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------

    def start(self) -> OpenAIUpstream:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="openai-upstream", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hung requests and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self._release.set()
        server.close_open_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("upstream not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what ``openai.OpenAI(base_url=...)`` takes."""
        return f"http://{self._host}:{self.port}/v1"

    # scripting -----------------------------------------------------------------

    def script(self, *steps: Step | Iterable[Step]) -> OpenAIUpstream:
        """Queue steps (or lists of steps), consumed one per chat-completions request."""
        flat: list[Step] = []
        for s in steps:
            flat.extend([s] if isinstance(s, Step) else s)
        with self._lock:
            for s in flat:
                if s.times < 1:
                    raise ValueError(f"times must be >= 1, got {s.times}")
                self._queue.extend([s] * s.times)
        return self

    def default(self, step: Step) -> OpenAIUpstream:
        """What requests get once the queue is empty (initially ``reply({})``)."""
        with self._lock:
            self._default = step
        return self

    def set_latency(self, seconds: float) -> OpenAIUpstream:
        """A fixed delay before every chat-completions answer (added to any ``delay`` step)."""
        with self._lock:
            self._latency = seconds
        return self

    def set_stream(self, *, ttft_s: float = 0.0, tokens_per_s: float | None = None) -> OpenAIUpstream:
        """The pace of every streamed answer whose step sets none: seconds to the first token, then
        tokens per second (None: all at once). ``latency`` still comes first, before the response headers."""
        with self._lock:
            self._pace = Pace(ttft_s, tokens_per_s)
        return self

    @property
    def pending(self) -> int:
        """Scripted steps not yet consumed."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Clear script, records, default, latency and stream pace; hung, delayed or streaming requests are dropped."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._streams = []
            self._default = self._initial_default
            self._latency = self._initial_latency
            self._pace = self._initial_pace
            self._release.set()
            self._release = threading.Event()

    # recording -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start/reset, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def streams(self) -> list[StreamRecord]:
        """Every streamed answer since start/reset, in the order they began (the records update as they go)."""
        with self._lock:
            return list(self._streams)

    def _record_stream(self, streams: list[StreamRecord], record: StreamRecord) -> None:
        with self._lock:
            streams.append(record)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_chat]

    @property
    def calls(self) -> int:
        """How many chat-completions requests arrived."""
        return len(self.chat_requests)

    # serving -------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(h.path).path.rstrip("/") or "/"
        rec = RecordedRequest(
            method=h.command, path=path, headers={k.lower(): v for k, v in h.headers.items()},
            body=body, raw=raw, received_at=time.monotonic(), client_address=h.client_address[:2],
        )
        with self._lock:
            self._requests.append(rec)
            release = self._release

        if rec.is_chat:
            self._serve_chat(h, body, release)
            return
        ex = _Exchange(h, {}, release)
        if h.command == "GET" and path.endswith(MODELS_SUFFIX):
            ex.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "scripted"} for m in MODEL_IDS
            ]})
        elif path.endswith((CHAT_SUFFIX, MODELS_SUFFIX)):
            ex.send_json(405, error_body(405, f"Method {h.command} not allowed on {path}."))
        else:
            ex.send_json(404, error_body(404, f"Unknown path {path}.", err_code="unknown_url"))

    def _serve_chat(self, h: _Handler, body: Any, release: threading.Event) -> None:
        problem = _invalid_chat_body(body)
        if problem:
            _Exchange(h, {}, release).send_json(400, error_body(400, problem))
            return
        with self._lock:
            step = self._queue.popleft() if self._queue else self._default
            ex = _Exchange(h, body, release, self._default, self._pace,
                           functools.partial(self._record_stream, self._streams), self._pace_unstreamed)
            latency = self._latency
        if ex.wait(latency):
            ex.drop()
            return
        step.serve(ex)


def _invalid_chat_body(body: Any) -> str | None:
    """Why ``body`` is not a chat-completions request this server answers, or None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "'messages' must be a non-empty array"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    return None


# --------------------------------------------------------------------------- standalone


def load_callable(spec: str) -> ContentFn:
    module, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--reply-fn wants MODULE:CALLABLE, got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; prints ``listening <base_url>`` once ready."""
    p = argparse.ArgumentParser(prog="python -m tests.support.openai_upstream", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, default=8099, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    p.add_argument("--ttft", type=float, default=0.0, help="streamed answers: seconds to the first token")
    p.add_argument("--tokens-per-s", type=float, default=None, help="streamed answers: token rate (default: at once)")
    p.add_argument("--pace-unstreamed", action="store_true",
                   help="answers not streamed take as long as streamed ones (first token + tokens at the rate)")
    answer = p.add_mutually_exclusive_group()
    answer.add_argument("--reply", help="fixed message content for every answer (default '{}')")
    answer.add_argument("--reply-fn", help="MODULE:CALLABLE computing content from the request body")
    args = p.parse_args(argv)

    default: Step | None = None
    if args.reply is not None:
        default = reply(args.reply)
    elif args.reply_fn:
        default = reply_fn(load_callable(args.reply_fn))

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with OpenAIUpstream(host=args.host, port=args.port, latency=args.latency, default=default,
                        ttft_s=args.ttft, tokens_per_s=args.tokens_per_s, pace_unstreamed=args.pace_unstreamed) as up:
        print(f"listening {up.base_url}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
