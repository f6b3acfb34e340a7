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

Standalone (benchmarks run it in its own process)::

    python -m tests.support.openai_upstream --port 8099 --latency 0.2
"""

from __future__ import annotations

import argparse
import importlib
import json
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
CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
MODELS_PATHS = frozenset({"/v1/models", "/models"})
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


def completion_payload(body: Mapping[str, Any], content: str | dict[str, Any] | list[Any],
                       finish_reason: str = "stop", usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A ``chat.completion`` object answering ``body`` with ``content``, with plausible ``usage``."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
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
        "usage": counted,
        "system_fingerprint": "fp_scripted",
    }


# --------------------------------------------------------------------------- steps


class _Exchange:
    """One chat-completions request being answered; what a step may do with it."""

    def __init__(self, handler: _Handler, body: dict[str, Any], release: threading.Event,
                 default: Step | None = None) -> None:
        self._handler = handler
        self.body = body
        self._release = release
        self.default = default  # what delay(then=None) serves

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when cut short by ``reset()``/``stop()`` (then drop)."""
        return seconds > 0 and self._release.wait(seconds)

    def hang(self) -> None:
        self._release.wait()
        self.drop()

    def drop(self) -> None:
        self._handler.close_connection = True
        try:
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send(self, code: int, payload: bytes, *, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> None:
        h = self._handler
        h.send_response(code)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(payload)  # buffered (wbufsize): headers and body leave in one send

    def send_json(self, code: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(code, json.dumps(obj, ensure_ascii=False).encode(), headers=headers)

    def send_completion(self, content: str | dict[str, Any] | list[Any], finish_reason: str,
                        usage: Mapping[str, int] | None) -> None:
        self.send_json(200, completion_payload(self.body, content, finish_reason, usage))


@dataclass(frozen=True, kw_only=True)
class Step:
    """One scripted answer; ``times`` repeats it that many requests in a row."""

    times: int = 1

    def serve(self, ex: _Exchange) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Reply(Step):
    content: str | dict[str, Any] | list[Any]
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None

    def serve(self, ex: _Exchange) -> None:
        ex.send_completion(self.content, self.finish_reason, self.usage)


ContentFn = Callable[[dict[str, Any]], "str | dict[str, Any] | list[Any] | Step"]


@dataclass(frozen=True, kw_only=True)
class ReplyFn(Step):
    fn: ContentFn
    finish_reason: str = "stop"

    def serve(self, ex: _Exchange) -> None:
        out = self.fn(ex.body)
        if isinstance(out, Step):
            out.serve(ex)
        else:
            ex.send_completion(out, self.finish_reason, None)


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
        step = self.then or ex.default
        if step is None:
            ex.drop()
        else:
            step.serve(ex)


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
    text: str = "this is not json {"
    code: int = 200
    content_type: str = "application/json"

    def serve(self, ex: _Exchange) -> None:
        ex.send(self.code, self.text.encode(), content_type=self.content_type)


def reply(content: str | dict[str, Any] | list[Any], *, finish_reason: str = "stop",
          usage: Mapping[str, int] | None = None, times: int = 1) -> Reply:
    """A 200 completion whose message content is ``content`` (dict/list JSON-encoded)."""
    return Reply(content=content, finish_reason=finish_reason, usage=usage, times=times)


def reply_fn(fn: ContentFn, *, finish_reason: str = "stop", times: int = 1) -> ReplyFn:
    """A 200 completion whose content is ``fn(request_body)``; ``fn`` may also return a Step."""
    return ReplyFn(fn=fn, finish_reason=finish_reason, times=times)


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
        return self.method == "POST" and self.path in CHAT_PATHS

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
                 default: Step | None = None) -> None:
        self._host, self._port = host, port
        self._initial_latency = latency
        self._initial_default = default or reply({})
        self._lock = threading.Lock()
        self._queue: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._latency = latency
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

    @property
    def pending(self) -> int:
        """Scripted steps not yet consumed."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Clear script, records, default and latency; hung or delayed requests are dropped."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._default = self._initial_default
            self._latency = self._initial_latency
            self._release.set()
            self._release = threading.Event()

    # recording -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start/reset, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

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
        if h.command == "GET" and path in MODELS_PATHS:
            ex.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "scripted"} for m in MODEL_IDS
            ]})
        elif path in CHAT_PATHS or path in MODELS_PATHS:
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
            ex = _Exchange(h, body, release, self._default)
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
    if body.get("stream"):
        return "stream=true is not supported by the scripted upstream"
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
    with OpenAIUpstream(host=args.host, port=args.port, latency=args.latency, default=default) as up:
        print(f"listening {up.base_url}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
