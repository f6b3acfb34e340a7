"""Streaming and conversations: time to the first item streamed vs the whole answer unstreamed, and what
a conversation's session costs per turn.

    python -m bench.chat_stream [--requests 24] [--turns 300] [--out bench/results/chat_stream.json]

1. Latency. The scripted upstream (``tests.support.openai_upstream``) runs in its own process, 300 ms to its
   first token and then 50 tokens/s (an answer not streamed arrives whole after the same time), answering as a model following the prompt would (the first k
   candidates, explained). The app (``service.app.create_app``, OpenAI provider, Redis) runs in its own
   process too, on a threaded HTTP server. Clients in this process open 1 and then 16 concurrent
   conversations; each asks new first turns (``/v1/chat``) and fresh ``/v1/recommend`` queries (cache off),
   streamed (``Accept: text/event-stream``: the time to the first ``item`` event and to ``done``) and
   unstreamed (the time to the whole JSON answer). p50/p99 over every request of a run.
2. Session cost. In one process through Flask's test client, with a fast upstream (no pacing) in its own
   process: this thread's CPU time (``time.thread_time``) for a ``/v1/chat`` turn in a conversation
   that already has 4 turns, and for the ``/v1/recommend`` call with the same words (cache off), side by side,
   alternating; and the session's own round trips (load + save of that session in Redis) alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("warm down jacket for winter", "我想买一款适合冬天穿的羽绒服", "gaming laptop under $1500",
           "noise cancelling headphones", "跑步鞋 500元以内", "coffee machine", "防晒霜", "rain jacket",
           "降噪耳机", "power bank for travel", "登山鞋", "sunscreen for sensitive skin")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def start_upstream(*pace: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0", *pace,
         "--reply-fn", "tests.support.picks:pick_first_k"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip().split(" ", 1)[1]


def serve(upstream_url: str, prefix: str) -> None:
    """The app on a threaded HTTP server; prints ``listening <port>``."""
    from werkzeug.serving import make_server

    from service.app import create_app
    from service.settings import load_settings

    settings = load_settings(providers="openai", openai_base_url=upstream_url, openai_api_key="sk-bench",
                             redis_url=REDIS_URL, cache_prefix=prefix, cache_ttl_s=0, log_level="WARNING",
                             timeout_s=30, deadline_s=60)
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    server.socket.listen(256)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


def one(client: httpx.Client, base: str, path: str, body: dict[str, Any], streamed: bool) -> dict[str, float]:
    started = time.perf_counter()
    if not streamed:
        r = client.post(base + path, json=body)
        assert r.status_code == 200 and r.json()["items"], r.text
        return {"first_item": time.perf_counter() - started, "total": time.perf_counter() - started}
    first = None
    event = ""
    with client.stream("POST", base + path, json=body, headers={"Accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "item" and first is None:
                    first = time.perf_counter() - started
            elif event == "done" and line.startswith("data: "):
                assert json.loads(line[6:])["items"]
    assert first is not None
    return {"first_item": first, "total": time.perf_counter() - started}


def latency(base: str, requests: int) -> list[dict[str, Any]]:
    rows = []
    for concurrency in (1, 16):
        for path in ("/v1/chat", "/v1/recommend"):
            for streamed in (True, False):
                n = max(requests, concurrency * 2)
                bodies = []
                for i in range(n):
                    words = f"{QUERIES[i % len(QUERIES)]} {uuid.uuid4().hex[:4]}"
                    bodies.append({"message": words, "k": 3} if path == "/v1/chat" else {"query": words, "k": 3})
                local = threading.local()

                def run(body: dict[str, Any]) -> dict[str, float]:
                    if not hasattr(local, "client"):
                        local.client = httpx.Client(timeout=120)
                    return one(local.client, base, path, body, streamed)

                with ThreadPoolExecutor(concurrency) as pool:
                    results = list(pool.map(run, bodies))
                key = "first_item" if streamed else "total"
                values = np.array([r[key] for r in results]) * 1000
                rows.append({
                    "endpoint": path, "concurrency": concurrency, "streamed": streamed, "requests": n,
                    "measure": "time to first item" if streamed else "whole answer",
                    "p50_ms": round(float(np.percentile(values, 50)), 1),
                    "p99_ms": round(float(np.percentile(values, 99)), 1),
                    "total_p50_ms": round(float(np.percentile([r["total"] * 1000 for r in results], 50)), 1),
                })
                print(rows[-1], flush=True)
    return rows


def session_cost(turns: int) -> dict[str, Any]:
    proc, upstream_url = start_upstream()
    prefix = f"bench-chat-{uuid.uuid4().hex[:8]}"
    try:
        from service.app import build_dependencies, create_app
        from service.settings import load_settings

        settings = load_settings(providers="openai", openai_base_url=upstream_url, openai_api_key="sk-bench",
                                 redis_url=REDIS_URL, cache_prefix=prefix, cache_ttl_s=0, log_level="WARNING")
        deps = build_dependencies(settings)
        client = create_app(settings, deps=deps).test_client()
        sessions = []
        for i in range(8):  # conversations with 4 turns behind them
            sid = None
            for message in (QUERIES[i], "cheaper", "any brand is fine", QUERIES[i]):
                body = {"message": message, "k": 5, **({"session_id": sid} if sid else {})}
                sid = client.post("/v1/chat", json=body).json["session_id"]
            sessions.append(sid)
        chat_cpu, recommend_cpu, store_cpu = [], [], []
        store = deps.chat._sessions  # noqa: SLF001 - the bench measures the store alone too
        for i in range(turns):
            words = QUERIES[i % 8]
            t = time.thread_time()
            r = client.post("/v1/recommend", json={"query": words, "k": 5})
            recommend_cpu.append(time.thread_time() - t)
            assert r.status_code == 200
            t = time.thread_time()
            r = client.post("/v1/chat", json={"session_id": sessions[i % 8], "message": words, "k": 5})
            chat_cpu.append(time.thread_time() - t)
            assert r.status_code == 200 and not r.json["stateless"]
            t = time.thread_time()
            store.save(store.load(sessions[i % 8]), new=False)
            store_cpu.append(time.thread_time() - t)
        ms = lambda xs: round(statistics.median(xs) * 1000, 3)  # noqa: E731
        blob = deps.chat._sessions._client.get(store.key(sessions[0]))  # noqa: SLF001
        return {
            "turns": turns,
            "recommend_cpu_p50_ms": ms(recommend_cpu),
            "chat_turn_cpu_p50_ms": ms(chat_cpu),
            "chat_over_recommend_p50_ms": round(ms(chat_cpu) - ms(recommend_cpu), 3),
            "session_load_save_cpu_p50_ms": ms(store_cpu),
            "session_bytes": len(blob or b""),
        }
    finally:
        proc.terminate()
        import redis

        client_ = redis.Redis.from_url(REDIS_URL)
        keys = list(client_.scan_iter(f"{prefix}*"))
        if keys:
            client_.delete(*keys)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24, help="requests per run (at least 2 per client)")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat_stream.json"))
    parser.add_argument("--serve", nargs=2, metavar=("UPSTREAM", "PREFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return
    upstream, upstream_url = start_upstream("--ttft", "0.3", "--tokens-per-s", "50", "--pace-unstreamed")
    prefix = f"bench-stream-{uuid.uuid4().hex[:8]}"
    app = subprocess.Popen([sys.executable, "-m", "bench.chat_stream", "--serve", upstream_url, prefix],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        base = f"http://127.0.0.1:{app.stdout.readline().strip().split(' ', 1)[1]}"
        rows = latency(base, args.requests)
    finally:
        app.terminate()
        upstream.terminate()
    cost = session_cost(args.turns)
    print(cost)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other sessions' work), Python {platform.python_version()}",
        "upstream": "scripted, own process: 300 ms to the first token, then 50 tokens/s",
        "latency": rows,
        "session_cost": cost,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
