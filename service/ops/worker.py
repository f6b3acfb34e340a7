"""gunicorn's threaded worker, with every request read whole by the event loop before a thread takes it.

gunicorn's ``gthread`` worker hands a connection to a pool thread as soon as its first byte
arrives; the thread then reads headers and body with blocking calls and no time limit. A client
that sends half a body and stops holds that thread for good: 140 such connections held every
thread of the workers, and ordinary requests timed out behind them (issue 13 item 3).

Here the worker's main loop, which already multiplexes every socket with a selector, reads each
request itself with non-blocking ``recv`` calls into a per-connection buffer, until the request
line, headers and body (by ``Content-Length`` or through the final chunk) are all in. Only then
does a pool thread get the connection, its gunicorn parser primed with the buffered bytes, so no
thread ever waits on a client. A connection that has not delivered its whole request within
``read_timeout_s`` of its first byte (or of being accepted) is answered ``408`` and closed; one
that never sent a byte is closed silently (a browser's pre-connect).

What this does not read whole, it hands over at once and gunicorn's own parser decides: a body
over ``max_body_bytes`` (the app answers 413 from what it holds), a head over 64 KB or
unparseable framing (gunicorn answers 400). ``Expect: 100-continue`` is answered here, so the
client sends its body while the request is still in the event loop.

Behind nginx, ``client_header_timeout`` / ``client_body_timeout`` and request buffering (the
default) do this before shopguide ever sees the client (docs/failure-modes.md).
"""

from __future__ import annotations

import errno
import json
import re
import selectors
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http, util
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker
from prometheus_client import Counter

from service.ops.metrics import multiprocess_dir

MAX_HEAD_BYTES = 64 * 1024  # past this without a blank line, gunicorn's parser refuses the head
_RECV = 64 * 1024
_SWEEP_EVERY_S = 0.25
_EXPECT_LINE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


@dataclass
class _Reading:
    deadline: float
    buf: bytearray = field(default_factory=bytearray)
    continued: bool = False


def request_complete(buf: bytes | bytearray, max_body: int) -> tuple[bool, bool]:
    """Whether ``buf`` holds a whole request to hand over (or one gunicorn must judge), and whether it asks for 100-continue.

    ``(False, _)`` means wait for more bytes.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return len(buf) > MAX_HEAD_BYTES, False
    head = bytes(buf[:end]).decode("latin-1")
    headers: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            return True, False  # malformed: gunicorn's 400
        headers[name.strip().lower()] = value.strip()
    expect = headers.get("expect", "").lower() == "100-continue"
    start = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _chunked_complete(buf, start, max_body), expect
    length = headers.get("content-length")
    if length is None:
        return True, False
    if not length.isdigit() or int(length) > max_body:
        return True, False  # refused from the header alone
    return len(buf) - start >= int(length), expect


def _chunked_complete(buf: bytes | bytearray, pos: int, max_body: int) -> bool:
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return len(buf) - pos > 4096  # a size line that long is broken
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            return True  # gunicorn answers InvalidChunkSize
        size = int(size_text, 16)
        total += size
        if total > max_body:
            return True  # enough to refuse: the app answers 413
        if size == 0:
            if buf[eol + 2 : eol + 4] == b"\r\n":
                return True
            return buf.find(b"\r\n\r\n", eol + 2) >= 0  # trailers end with a blank line
        pos = eol + 2 + size + 2
        if len(buf) < pos:
            return False
        if buf[pos - 2 : pos] != b"\r\n":
            return True  # gunicorn answers ChunkMissingTerminator


def error_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP response in the service's error shape, for errors answered before the app sees the request."""
    rid = uuid.uuid4().hex
    body = json.dumps({"error": {"code": code, "message": message, "field": None, "request_id": rid}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Request-ID: {rid}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _timeout_response() -> bytes:
    return error_bytes(
        408, "Request Timeout", "request_timeout", "the request was not received in time; send it whole, without pauses"
    )


def _json_write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answers (a malformed request line, headers too large) in the service's JSON shape."""
    code = "internal_error" if status_int >= 500 else reason.lower().replace(" ", "_")
    util.write_nonblock(sock, error_bytes(status_int, reason, code, mesg or reason))


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` whose pool threads only ever see requests already read whole (see the module)."""

    read_timeout_s: float = 5.0
    max_body_bytes: int = 64 * 1024

    def init_process(self) -> None:
        # In this worker process only: gunicorn answers what it cannot parse through util.write_error (an
        # HTML page); every error body of the service is JSON and carries a request_id (issue 14 item 11).
        util.write_error = _json_write_error
        # Under gunicorn metrics are multi-process (files the app's /metrics merges), so a counter made here
        # is exported like the app's own: no registry needed in this process.
        self._timeouts_metric = (
            Counter("shopguide_request_read_timeouts", "Connections answered 408 or closed: request not received in time",
                    ["sent"], registry=None)
            if multiprocess_dir() else None
        )
        self._reading: dict[TConn, _Reading] = {}
        self._next_sweep = 0.0
        self.read_timeouts = 0
        super().init_process()  # runs the worker's loop

    def _buffers(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking from here
        if not self._buffers(conn):
            client_sock.setblocking(True)
            self.enqueue_req(conn)
            return
        self._reading[conn] = _Reading(deadline=time.monotonic() + self.read_timeout_s)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection has its next request coming: read it here too, timed from now."""
        self.keepalived_conns.remove(conn)
        self._reading[conn] = _Reading(deadline=time.monotonic() + self.read_timeout_s)
        self.poller.modify(client, selectors.EVENT_READ, partial(self._on_readable, conn))
        self._on_readable(conn, client)

    def _on_readable(self, conn: TConn, client: Any) -> None:
        state = self._reading.get(conn)
        if state is None:
            return
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._forget(conn)
            return
        state.buf += data
        ready, expect = request_complete(state.buf, self.max_body_bytes)
        if not ready:
            if expect and not state.continued:
                state.continued = True
                state.buf[:] = _EXPECT_LINE.sub(b"", bytes(state.buf), count=1)  # gunicorn must not send it again
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    self._forget(conn)
            return
        self.poller.unregister(client)
        del self._reading[conn]
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.unread(bytes(state.buf))
        conn.data_ready = True
        self.enqueue_req(conn)

    def _forget(self, conn: TConn, reply: bytes | None = None) -> None:
        self._reading.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass
        if reply:
            try:
                conn.sock.send(reply)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        late = [(conn, state) for conn, state in self._reading.items() if state.deadline <= now]
        for conn, state in late:
            self.read_timeouts += 1
            if self._timeouts_metric is not None:
                self._timeouts_metric.labels("partial" if state.buf else "nothing").inc()
            if state.buf:
                self.log.info("request from %s not received within %.1f s: 408", conn.client, self.read_timeout_s)
            self._forget(conn, _timeout_response() if state.buf else None)


def buffering_worker(read_timeout_s: float, max_body_bytes: int) -> type[BufferingThreadWorker]:
    """The worker class for gunicorn's ``worker_class`` with this server's limits."""
    return type(
        "ShopguideWorker",
        (BufferingThreadWorker,),
        {"read_timeout_s": read_timeout_s, "max_body_bytes": max_body_bytes, "__module__": __name__},
    )
