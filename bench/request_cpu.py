"""CPU per request inside one process, without an HTTP server: where a cache miss's time goes.

    python -m bench.request_cpu [--requests 400] [--profile]

Starts the scripted upstream (``tests.support.openai_upstream``, no delay) in its own
process, builds the app as ``shopguide serve`` does (OpenAI provider, Redis cache under a
fresh prefix) and sends unique queries through Flask's test client from one thread.
Reports this process's CPU time per request (the upstream's is not counted), for a
cache miss and a cache hit, and with ``--profile`` the functions that took it. A
repeatable companion to ``bench.service``: a change that moves the number here moves
the service's CPU per request.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
import uuid

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERIES = ("warm down jacket for winter", "我想买一款适合冬天穿的羽绒服", "gaming laptop under $1500",
           "noise cancelling headphones", "跑步鞋 500元以内", "coffee machine", "防晒霜", "rain jacket")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", choices=("miss", "hit"), help="profile this run and print where its time went")
    parser.add_argument("--providers", default="openai",
                        help="the chain (openai,local: local is a model server at an unreachable URL, never reached "
                             "while openai answers: what the default chain costs a web worker)")
    args = parser.parse_args(argv)
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0", "--reply-fn",
         "tests.support.picks:pick_first_k"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    base_url = upstream.stdout.readline().strip().split(" ", 1)[1]
    prefix = f"bench-cpu-{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        from service.app import create_app
        from service.settings import load_settings

        settings = load_settings(providers=args.providers, openai_base_url=base_url, openai_api_key="sk-bench",
                                 local_url="http://127.0.0.1:9",
                                 redis_url=redis_url, cache_prefix=prefix, log_level="WARNING")
        client = create_app(settings).test_client()

        def post(query: str) -> None:
            r = client.post("/v1/recommend", json={"query": query, "k": 5})
            assert r.status_code == 200 and not r.json["degraded"], r.json

        warm = [f"{QUERIES[i % len(QUERIES)]} warm{i}" for i in range(50)]
        for q in warm:  # warm-up: imports, jieba, connection pools; the hit run asks these again
            post(q)
        profiler = cProfile.Profile() if args.profile else None
        for label, queries in (("miss", [f"{QUERIES[i % len(QUERIES)]} {uuid.uuid4().hex[:6]}" for i in range(args.requests)]),
                               ("hit", [warm[i % len(warm)] for i in range(args.requests)])):
            if profiler and label == args.profile:
                profiler.enable()
            cpu, wall = time.process_time(), time.perf_counter()
            for q in queries:
                post(q)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profiler and label == args.profile:
                profiler.disable()
            print(f"{label}: {cpu / len(queries) * 1000:.3f} ms CPU, {wall / len(queries) * 1000:.3f} ms wall per request")
        if profiler:
            if os.environ.get("BENCH_DUMP"):
                profiler.dump_stats(os.environ["BENCH_DUMP"])
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(os.environ.get("BENCH_FILTER", ""), 60)
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        client_ = redis.Redis.from_url(redis_url)
        for key in client_.scan_iter(f"{prefix}*"):
            client_.delete(key)


if __name__ == "__main__":
    main()
