"""Ordinary requests while 200 slow clients hold connections: shopguide's worker against plain gthread.

    python -m bench.slow_clients [--slow 200] [--duration 10] [--clients 16] [--latency 0.05]

For each server, side by side in one run (issue 13 item 3):
- ``shopguide``: ``shopguide serve`` (its worker reads each request whole in the event loop,
  408 after ``SHOPGUIDE_REQUEST_READ_TIMEOUT_S``);
- ``gthread``: the same app under plain ``gunicorn -k gthread`` with the same workers and threads.

Each is measured twice with ``wrk`` (cache misses against the scripted upstream at ``--latency``):
alone (the baseline), then with ``--slow`` connections that each send their headers and half a
body, then stall; a connection the server closes is opened again at once, so the slow clients stay
at ``--slow`` throughout. Reported: p50/p99 and req/s, errors and timeouts (wrk's 5 s timeout), and
the p99 ratio against the server's own baseline. Results go to ``bench/results/slow_clients.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import redis

from bench.service import REDIS_URL, RESULTS, ROOT, WRK, free_port, start_upstream, wait_until_answering

BODY = b'{"query": "warm down jacket for winter", "k": 3}'


def slow_clients(port: int, count: int, stop: multiprocessing.synchronize.Event, opened: multiprocessing.sharedctypes.Synchronized) -> None:
    """Keep ``count`` connections that sent half a request; reopen any the server closes."""
    import selectors

    head = (
        "POST /v1/recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY[: len(BODY) // 2]
    sel = selectors.DefaultSelector()

    def open_one() -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
            with opened.get_lock():
                opened.value += 1
        except OSError:
            time.sleep(0.05)

    for _ in range(count):
        open_one()
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            try:
                data = sock.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                open_one()
        while len(sel.get_map()) < count and not stop.is_set():
            open_one()
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]


def wrk(url: str, clients: int, duration: int, tag: str) -> dict:
    cmd = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{duration}s", "--timeout", "5s",
           "-s", str(WRK / "recommend.lua"), url, "--", "miss", tag]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def server_env(base_url: str, prefix: str, workers: int, threads: int) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "SHOPGUIDE_PROVIDERS": "openai",
        "REDIS_URL": REDIS_URL,
        "SHOPGUIDE_CACHE_PREFIX": prefix,
        "SHOPGUIDE_WORKERS": str(workers),
        "SHOPGUIDE_THREADS": str(threads),
        "SHOPGUIDE_LOG_LEVEL": "WARNING",
        "SHOPGUIDE_RATE_LIMIT": "off",
    }


def start(kind: str, base_url: str, port: int, prefix: str, workers: int, threads: int) -> subprocess.Popen:
    env = server_env(base_url, prefix, workers, threads)
    if kind == "shopguide":
        cmd = [sys.executable, "-m", "service", "serve", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
               "--reuse-port", "--keep-alive", "5", "--log-level", "warning", "-b", f"127.0.0.1:{port}",
               "service:create_app()"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return wait_until_answering(proc, urllib.request.Request(f"http://127.0.0.1:{port}/readyz"), kind, 120)


def measure(kind: str, args: argparse.Namespace, base_url: str, prefix: str) -> dict:
    port = free_port()
    proc = start(kind, base_url, port, f"{prefix}-{kind}", args.workers, args.threads)
    url = f"http://127.0.0.1:{port}"
    try:
        wrk(url, args.clients, 3, f"{kind}-warm")
        alone = wrk(url, args.clients, args.duration, f"{kind}-alone")
        stop, opened = multiprocessing.Event(), multiprocessing.Value("i", 0)
        driver = multiprocessing.Process(target=slow_clients, args=(port, args.slow, stop, opened), daemon=True)
        driver.start()
        time.sleep(1.0)  # every slow connection is open before the load starts
        loaded = wrk(url, args.clients, args.duration, f"{kind}-slow")
        stop.set()
        driver.join(timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    row = {"server": kind}
    for name, stats in (("alone", alone), ("slow", loaded)):
        row[f"{name}_p50_ms"] = stats["p50_us"] / 1000
        row[f"{name}_p99_ms"] = stats["p99_us"] / 1000
        row[f"{name}_rps"] = stats["rps"]
        row[f"{name}_errors"] = stats["errors"]
        row[f"{name}_requests"] = stats["requests"]
    row["slow_connections_opened"] = opened.value
    # No request answered at all while the slow clients held the threads: no percentile to compare.
    row["p99_ratio"] = row["slow_p99_ms"] / row["alone_p99_ms"] if row["slow_requests"] and row["alone_p99_ms"] else None
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--servers", default="shopguide,gthread")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("bench.slow_clients needs wrk: apt-get install wrk")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    upstream, base_url = start_upstream(args.latency)
    rows = []
    try:
        for kind in args.servers.split(","):
            rows.append(measure(kind, args, base_url, prefix))
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    machine = f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · Python {platform.python_version()}"
    result = {"bench": "slow_clients", "machine": machine, "slow": args.slow, "clients": args.clients,
              "latency_s": args.latency, "duration_s": args.duration, "workers": args.workers,
              "threads": args.threads, "rows": rows, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "slow_clients.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmachine: {machine}; {args.workers} workers x {args.threads} threads; {args.clients} wrk clients; "
          f"upstream {args.latency * 1000:.0f} ms; {args.slow} slow connections\n")
    print("| server | alone p50/p99 ms | alone req/s | with slow clients p50/p99 ms | req/s | errors alone / with slow | p99 ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        err = f"{r['alone_errors']} / {r['slow_errors']}"
        ratio = f"{r['p99_ratio']:.2f}×" if r["p99_ratio"] else f"no request answered in {args.duration} s"
        print(f"| {r['server']} | {r['alone_p50_ms']:.1f}/{r['alone_p99_ms']:.1f} | {r['alone_rps']:.0f} | "
              f"{r['slow_p50_ms']:.1f}/{r['slow_p99_ms']:.1f} | {r['slow_rps']:.0f} | {err} | {ratio} |")


if __name__ == "__main__":
    main()
