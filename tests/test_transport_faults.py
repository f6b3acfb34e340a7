"""Hostile clients against the real server (issue 13 items 1-3): `shopguide serve`'s gunicorn over raw sockets.

Chunked bodies with broken framing, chunked bodies past the size limit, clients that stall
mid-request, ``Expect: 100-continue`` and keep-alive, each as bytes on a TCP connection.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.openai_upstream import OpenAIUpstream
from tests.support.prometheus import sample
from tests.support.waiting import wait_for
from tests.test_ops_gunicorn import REPO, call, free_port, server_env, stop, up

READ_TIMEOUT_S = 2.0
THREADS = 4


@pytest.fixture(scope="module")
def server(_upstream_server: OpenAIUpstream) -> Iterator[int]:
    """One worker of four threads, a 2 s read timeout: the smallest server that slow clients could starve."""
    port = free_port()
    code = (
        "from service.cli.serve import serve; from service.settings import load_settings; "
        "from tests.support.small_shop import create_test_app_from; serve(load_settings(), create_test_app_from)"
    )
    env = server_env(
        _upstream_server, port, SHOPGUIDE_WORKERS="1", SHOPGUIDE_THREADS=str(THREADS),
        SHOPGUIDE_REQUEST_READ_TIMEOUT_S=str(READ_TIMEOUT_S), SHOPGUIDE_TIMEOUT_S="1", SHOPGUIDE_DEADLINE_S="3",
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: up(port) or proc.poll() is not None, timeout_s=60)
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        yield port
    finally:
        stop(proc)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_response(sock: socket.socket, stream=None) -> tuple[int, dict[str, str], bytes]:  # noqa: ANN001
    """One HTTP response (status, lower-cased headers, body by Content-Length), read exactly; ``stream``:
    a ``sock.makefile("rb")`` to read several pipelined responses from."""
    stream = stream or sock.makefile("rb")
    line = stream.readline()
    while line.startswith(b"HTTP/1.1 100"):  # an interim 100 Continue and its blank line
        stream.readline()
        line = stream.readline()
    if not line:
        raise ConnectionError("closed before a response")
    status = int(line.split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers.get("content-length", "0")))


def chunked_request(chunks: list[bytes], *, path: str = "/v1/recommend") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + b"".join(chunks)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def send(port: int, raw: bytes) -> tuple[int, dict[str, str], dict]:
    with connect(port) as sock:
        sock.sendall(raw)
        status, headers, body = read_response(sock)
    return status, headers, json.loads(body)


BODY = json.dumps({"query": "down jacket"}).encode()


def test_a_well_formed_chunked_body_is_served(server: int) -> None:
    status, _, body = send(server, chunked_request([chunk(BODY[:7]), chunk(BODY[7:]), b"0\r\n\r\n"]))
    assert status == 200, body
    assert any(item["id"].startswith("p-down") for item in body["items"])


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(lambda: f"{len(BODY) + 1:x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n", id="size-off-by-one"),
        pytest.param(lambda: b"zz\r\n" + BODY + b"\r\n0\r\n\r\n", id="non-hex-size"),
        pytest.param(lambda: f"{len(BODY):x}\r\n".encode() + BODY + b"XX0\r\n\r\n", id="missing-terminator"),
    ],
)
def test_malformed_chunked_framing_is_a_400_json_error(server: int, framing) -> None:  # noqa: ANN001
    """Issue 13 item 1: it answered 500 internal_error with a traceback in the log."""
    status, headers, body = send(server, chunked_request([framing()]))
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request" and "chunked" in body["error"]["message"]
    assert body["error"]["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("size", [64 * 1024 + 1, 205 * 1024, 1200 * 1024])
def test_a_chunked_body_over_the_limit_is_413_never_truncated(server: int, size: int) -> None:
    """Issue 13 item 2: 205 KB chunked was cut to 64 KB and answered 200; 1.2 MB answered 400."""
    padding = b" " * (size - len(BODY))
    payload = BODY[:-1] + padding + BODY[-1:]  # valid JSON whatever its length: a truncated read would parse
    pieces = [chunk(payload[i : i + 16384]) for i in range(0, len(payload), 16384)]
    status, headers, body = send(server, chunked_request([*pieces, b"0\r\n\r\n"]))
    assert status == 413, body
    assert body["error"]["code"] == "payload_too_large" and body["error"]["request_id"] == headers["x-request-id"]


def test_a_chunked_body_at_the_limit_is_accepted(server: int) -> None:
    payload = BODY[:-1] + b" " * (64 * 1024 - len(BODY)) + BODY[-1:]
    assert len(payload) == 64 * 1024
    pieces = [chunk(payload[i : i + 10000]) for i in range(0, len(payload), 10000)]
    status, _, body = send(server, chunked_request([*pieces, b"0\r\n\r\n"]))
    assert status == 200, body


def test_content_length_over_the_limit_is_413_too(server: int) -> None:
    head = (
        "POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {200 * 1024}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _, body = send(server, head + BODY)
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def half_sent(port: int) -> socket.socket:
    """A connection that announced a body and sent half of it."""
    sock = connect(port, timeout=READ_TIMEOUT_S + 10)
    head = (
        "POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    sock.sendall(head + BODY[: len(BODY) // 2])
    return sock


def timed_get(port: int, path: str = "/healthz") -> float:
    started = time.monotonic()
    with connect(port, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        status, _, _ = read_response(sock)
    assert status == 200
    return time.monotonic() - started


def test_slow_clients_hold_no_thread_and_are_answered_408(server: int) -> None:
    """Issue 13 item 3: half-sent bodies held every thread for 40 s+, and ordinary requests timed out."""
    slow = [half_sent(server) for _ in range(10 * THREADS)]  # ten times the threads the worker has
    header_only = connect(server, timeout=READ_TIMEOUT_S + 10)
    header_only.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # a slow-loris head, never finished
    try:
        time.sleep(0.3)
        latencies = [timed_get(server) for _ in range(10)]
        assert max(latencies) < 1.0, latencies  # served at once, not behind the slow ones
        ask = json.dumps({"query": "gaming laptop"}).encode()
        head = ("POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nConnection: close\r\n"
                f"Content-Length: {len(ask)}\r\n\r\n").encode()
        status, _, body = send(server, head + ask)
        assert status == 200, body
        started = time.monotonic()
        for sock in [*slow, header_only]:
            status, headers, raw = read_response(sock)
            assert status == 408
            error = json.loads(raw)["error"]
            assert error["code"] == "request_timeout" and error["request_id"] == headers["x-request-id"]
            assert headers["connection"] == "close"
            assert sock.recv(1) == b""  # and closed
        assert time.monotonic() - started < READ_TIMEOUT_S + 2
    finally:
        for sock in [*slow, header_only]:
            sock.close()
    status, metrics = call(server, "GET", "/metrics")
    assert sample(metrics, "shopguide_request_read_timeouts_total", sent="partial") >= len(slow) + 1


def test_a_byte_a_second_does_not_extend_the_deadline(server: int) -> None:
    with half_sent(server) as sock:
        started = time.monotonic()
        stop_drip = threading.Event()

        def drip() -> None:
            while not stop_drip.wait(0.3):
                try:
                    sock.send(b" ")
                except OSError:
                    return

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            status, _, _ = read_response(sock)
        finally:
            stop_drip.set()
            dripper.join()
        assert status == 408 and time.monotonic() - started < READ_TIMEOUT_S + 2


def test_an_idle_connection_is_closed_without_an_answer(server: int) -> None:
    with connect(server, timeout=READ_TIMEOUT_S + 10) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""  # a browser's pre-connect: closed, nothing sent
        assert time.monotonic() - started < READ_TIMEOUT_S + 2


def test_expect_100_continue_and_keep_alive(server: int) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
            + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        status, headers, raw = read_response(sock)
        assert status == 200, raw
        assert b"100 Continue" not in raw
        for _ in range(3):  # the same connection, kept alive, request after request
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(sock)[0] == 200
        sock.sendall(f"POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Length: {len(BODY)}\r\n\r\n{{".encode())
        started = time.monotonic()
        assert read_response(sock)[0] == 408  # a kept-alive connection's next request is timed too
        assert time.monotonic() - started < READ_TIMEOUT_S + 2


def test_pipelined_requests_are_each_answered(server: int) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" * 2 + b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        stream = sock.makefile("rb")
        assert [read_response(sock, stream)[0] for _ in range(3)] == [200, 200, 200]


def test_worker_request_scan_unit() -> None:
    from service.ops.worker import request_complete

    head = b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
    assert request_complete(head + b"ab", 100) == (False, False)
    assert request_complete(head + b"abcd", 100) == (True, False)
    assert request_complete(b"GET / HTTP/1.1\r\nHost: x", 100) == (False, False)
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert request_complete(chunked + b"4\r\nabcd\r\n", 100)[0] is False
    assert request_complete(chunked + b"4\r\nabcd\r\n0\r\n\r\n", 100)[0] is True
    assert request_complete(chunked + b"4\r\nabcd\r\n0\r\nX-T: 1\r\n", 100)[0] is False
    assert request_complete(chunked + b"4\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n", 100)[0] is True
    assert request_complete(chunked + b"ff\r\n", 100)[0] is True  # over the limit: handed over for the 413
    assert request_complete(chunked + b"q\r\n", 100)[0] is True  # broken: gunicorn's 400
    assert request_complete(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 100) == (False, True)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NOT A REQUEST LINE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nBad Header Name: x\r\n\r\n", 400),
    ],
)
def test_what_gunicorn_refuses_is_json_with_a_request_id(server: int, raw: bytes, status: int) -> None:
    """Issue 14 item 11: every error body carries request_id; gunicorn's own answers were HTML pages."""
    got, headers, body = send(server, raw)
    assert got == status and headers["content-type"] == "application/json"
    assert body["error"]["request_id"] == headers["x-request-id"] and body["error"]["code"]
