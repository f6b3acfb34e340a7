"""Event ingestion through the HTTP API: POST /v1/events under gunicorn, Redis included.

    python -m bench.events [--duration 10] [--clients 8] [--sizes 10,100,1000] [--workers 2]

Starts a private ``redis-server`` (no persistence; its own process, so its CPU is measured and no
other Redis client shares it) and ``shopguide serve`` (gunicorn, threaded workers) on the demo
catalog with the event store in it, and drives it with ``wrk`` (``bench/wrk/events.lua``: every
event new, 5,000 shoppers, ids hashed, a session id each), one run per batch size, side by side.

Reports events/s and request p50/p99, checks that the stream holds every acknowledged event, and
measures the CPU the service's workers and Redis spent per event (``/proc``; wrk's own CPU not
counted). On a shared machine events/s falls with the load others put on it; the CPU per event does
not, so ``events/s per 2 cores`` (2 / CPU seconds per event) is what two quiet cores would sustain.
Writes ``bench/results/events.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import redis

from bench.service import free_port, start_service, wrk
from bench.service import tree_cpu_s as cpu_seconds  # CPU of a process and its descendants, from /proc

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "wrk" / "events.lua"
RESULTS = ROOT / "bench" / "results"


def start_redis() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    if not shutil.which("wrk") or not shutil.which("redis-server"):
        raise SystemExit("bench.events needs wrk and redis-server: apt-get install wrk redis-server")
    prefix = f"bench-ev-{uuid.uuid4().hex[:8]}"
    port = free_port()
    redis_proc, redis_url = start_redis()
    os.environ["REDIS_URL"] = redis_url  # start_service hands the service this Redis
    # No model is called: the upstream URL only satisfies the provider settings.
    import bench.service

    bench.service.REDIS_URL = redis_url
    service = start_service("http://127.0.0.1:9/v1", port, prefix, args.workers, args.threads)
    client = redis.Redis.from_url(redis_url)
    stream = f"{prefix}:ev:log"
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        wrk(url, SCRIPT, args.clients, 3, "100", "warm")  # warm-up: connections, the Lua script's SHA
        for size in (int(s) for s in args.sizes.split(",")):
            before = client.xlen(stream)
            cpu_before = cpu_seconds(service.pid) + cpu_seconds(redis_proc.pid)
            run = wrk(url, SCRIPT, args.clients, args.duration, str(size), f"b{size}")
            time.sleep(0.5)  # requests in flight when wrk stopped finish
            cpu = cpu_seconds(service.pid) + cpu_seconds(redis_proc.pid) - cpu_before
            stored = client.xlen(stream) - before
            events_per_s = run["requests"] * size / (run["duration_us"] / 1e6)
            rows.append({
                "batch": size, "events_per_s": events_per_s, "requests_per_s": run["rps"],
                "p50_ms": run["p50_us"] / 1000, "p99_ms": run["p99_us"] / 1000, "errors": run["errors"],
                "non2xx": run["non2xx"], "stored": stored, "acknowledged": run["requests"] * size,
                "cpu_us_per_event": cpu / stored * 1e6, "events_per_s_per_2_cores": 2 * stored / cpu,
            })
    finally:
        service.terminate()
        service.wait(timeout=60)
        client.close()
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
    machine = (f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · "
               f"Python {platform.python_version()} · load average {os.getloadavg()[0]:.1f} at the end")
    result = {"bench": "events", "machine": machine, "duration_s": args.duration, "clients": args.clients,
              "workers": args.workers, "threads": args.threads, "rows": rows, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "events.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmachine: {machine}; gunicorn {args.workers} workers x {args.threads} threads; {args.clients} wrk connections\n")
    print("| batch | events/s | requests/s | p50 ms | p99 ms | CPU µs/event (service + Redis) | events/s per 2 cores "
          "| stored / acknowledged | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['batch']} | {r['events_per_s']:,.0f} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['cpu_us_per_event']:.0f} | {r['events_per_s_per_2_cores']:,.0f} | "
              f"{r['stored']:,} / {r['acknowledged']:,} | {r['errors']} |")


if __name__ == "__main__":
    main()
