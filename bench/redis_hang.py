"""Recommendations while Redis hangs (as under ``kill -STOP``): latency and throughput, with and without the breaker.

    python -m bench.redis_hang [--duration 8] [--clients 16] [--latency 0.05]

``shopguide serve`` (2 workers) talks to the real Redis through a proxy (``tests.support.tcp_proxy``)
that the bench hangs halfway: it still accepts connections but forwards nothing, like a stopped
Redis. Each configuration is measured with ``wrk`` (cache misses against the scripted upstream at
``--latency``) with Redis healthy, then hung:
- ``default``: the request path's settings (50 ms timeouts, Redis skipped after 3 failures for 5 s);
- ``no breaker``: 0.5 s timeouts and a breaker that never opens, close to what the service did before
  (it also had redis-py's three retries per call on top).
Issue 13 item 5 saw p50 0.2 s -> 2.2 s and ~76 -> 8 req/s. Results: ``bench/results/redis_hang.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

import redis

from bench.service import REDIS_URL, RESULTS, ROOT, free_port, start_upstream, wait_until_answering
from bench.slow_clients import wrk
from tests.support.tcp_proxy import HangableProxy

CONFIGS = {
    "default": {},
    "no breaker": {"SHOPGUIDE_REDIS_TIMEOUT_S": "0.5", "SHOPGUIDE_REDIS_BREAKER_FAILURES": "1000"},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("bench.redis_hang needs wrk: apt-get install wrk")
    host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    upstream, base_url = start_upstream(args.latency)
    rows = []
    try:
        for name, extra in CONFIGS.items():
            with HangableProxy((host, int(port))) as proxy:
                service_port = free_port()
                env = {
                    **os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-bench", "SHOPGUIDE_PROVIDERS": "openai",
                    "REDIS_URL": proxy.url, "SHOPGUIDE_CACHE_PREFIX": f"{prefix}-{len(rows)}", "SHOPGUIDE_WORKERS": "2",
                    "SHOPGUIDE_THREADS": "32", "SHOPGUIDE_LOG_LEVEL": "ERROR", "SHOPGUIDE_RATE_LIMIT": "off", **extra,
                }
                proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(service_port)],
                                        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_until_answering(proc, urllib.request.Request(f"http://127.0.0.1:{service_port}/readyz"), name, 120)
                url = f"http://127.0.0.1:{service_port}"
                try:
                    wrk(url, args.clients, 3, f"{prefix}w{len(rows)}")
                    healthy = wrk(url, args.clients, args.duration, f"{prefix}h{len(rows)}")
                    proxy.hang()
                    hung = wrk(url, args.clients, args.duration, f"{prefix}s{len(rows)}")
                finally:
                    proxy.release()
                    proc.terminate()
                    proc.wait(timeout=60)
            rows.append({
                "config": name,
                "healthy_p50_ms": healthy["p50_us"] / 1000, "healthy_p99_ms": healthy["p99_us"] / 1000,
                "healthy_rps": healthy["rps"], "hung_p50_ms": hung["p50_us"] / 1000, "hung_p99_ms": hung["p99_us"] / 1000,
                "hung_rps": hung["rps"], "hung_errors": hung["errors"],
            })
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    machine = f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · Python {platform.python_version()}"
    result = {"bench": "redis_hang", "machine": machine, "clients": args.clients, "latency_s": args.latency,
              "duration_s": args.duration, "rows": rows, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redis_hang.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmachine: {machine}; 2 workers x 32 threads; {args.clients} wrk clients; upstream {args.latency * 1000:.0f} ms\n")
    print("| config | healthy p50/p99 ms | healthy req/s | hung p50/p99 ms | hung req/s | errors |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['healthy_p50_ms']:.0f}/{r['healthy_p99_ms']:.0f} | {r['healthy_rps']:.0f} | "
              f"{r['hung_p50_ms']:.0f}/{r['hung_p99_ms']:.0f} | {r['hung_rps']:.0f} | {r['hung_errors']} |")


if __name__ == "__main__":
    main()
