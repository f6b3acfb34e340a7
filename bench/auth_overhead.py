"""Per-request cost of access control and rate limiting on the cache-hit path.

    python -m bench.auth_overhead [--n 1000] [--rounds 9]

1. ``Guard.authorize`` alone (the whole access-control hook: bearer parsing,
   SHA-256, constant-time compares against 10 configured keys, the rate-limit
   hit), per configuration.
2. Whole cache-hit requests through the WSGI app in-process (no sockets), with and
   without access control, rounds interleaved and the best round kept, so load
   from other processes on the box disturbs the comparison less.
Redis is 127.0.0.1:6379 with a unique prefix, cleaned up afterwards.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import uuid

from flask import request
from werkzeug.test import EnvironBuilder

from service.ops.auth import hash_key
from tests.support import small_shop
from tests.support.redis_db import REDIS_URL, delete_keys
from tests.support.scripted_provider import ScriptedProvider

KEY = f"sg_bench_{uuid.uuid4().hex}"
BODY = json.dumps({"query": "gaming laptop"}).encode()


def wsgi_runner(app, headers: dict[str, str]):  # noqa: ANN001, ANN201
    template = EnvironBuilder(path="/v1/recommend", method="POST", data=BODY, content_type="application/json",
                              headers=headers).get_environ()
    statuses: list[str] = []

    def start_response(status: str, _headers: list, exc_info=None):  # noqa: ANN001, ANN202
        statuses.append(status)

    def run(n: int) -> float:
        statuses.clear()
        started = time.perf_counter()
        for _ in range(n):
            environ = dict(template)
            environ["wsgi.input"] = io.BytesIO(BODY)
            for _ in app(environ, start_response):
                pass
        elapsed = (time.perf_counter() - started) / n * 1e6
        assert all(s.startswith("200") for s in statuses), statuses[-1]
        return elapsed

    return run


def authorize_us(app, headers: dict[str, str], n: int) -> float:  # noqa: ANN001
    guard = app.extensions["shopguide_guard"]
    best = float("inf")
    with app.test_request_context("/v1/recommend", method="POST", headers=headers):
        request.url_rule = app.url_map.bind("localhost").match("/v1/recommend", method="POST", return_rule=True)[0]
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(n):
                assert guard.authorize() is None
            best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    entries = f"bench:{hash_key(KEY)}:recommend+ops," + ",".join(
        f"other{i}:{hash_key(uuid.uuid4().hex)}:recommend" for i in range(9)
    )  # ten configured keys: every one is compared
    auth = {"Authorization": f"Bearer {KEY}"}
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    limit = "1000000/minute"
    configs = {
        "memory cache, open, no limit": (dict(rate_limit="off"), {}),
        "memory cache, key + memory limit": (dict(api_keys=entries, rate_limit=limit), auth),
        "redis cache, open, no limit": (dict(rate_limit="off", redis_url=REDIS_URL), {}),
        "redis cache, key + memory limit": (
            dict(api_keys=entries, rate_limit=limit, redis_url=REDIS_URL, rate_limit_storage="memory"), auth),
        "redis cache, key + redis limit": (
            dict(api_keys=entries, rate_limit=limit, redis_url=REDIS_URL, rate_limit_storage="redis"), auth),
    }
    apps = {}
    for name, (overrides, headers) in configs.items():
        settings = small_shop.settings(log_level="WARNING", cache_prefix=prefix, **overrides)
        apps[name] = (small_shop.app(settings, ScriptedProvider()), headers)
    try:
        print("Guard.authorize alone (best of 5 x 20000 calls):")
        for name in ("memory cache, key + memory limit", "redis cache, key + redis limit"):
            app, headers = apps[name]
            print(f"  {name.split(', ', 1)[1]:34s} {authorize_us(app, headers, 20000 if 'memory' in name else 2000):8.2f} us")
        runners = {name: wsgi_runner(app, headers) for name, (app, headers) in apps.items()}
        for run in runners.values():
            run(200)  # warm up; fills the cache
        best = {name: float("inf") for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                best[name] = min(best[name], run(args.n))
        print(f"cache-hit POST /v1/recommend, in-process WSGI, best of {args.rounds} interleaved rounds x {args.n}:")
        for name, us in best.items():
            base = best[name.split(",")[0] + ", open, no limit"]
            print(f"  {name:34s} {us:8.1f} us/request  ({us - base:+7.1f} us)  ~{1e6 / us:,.0f} req/s per core")
    finally:
        delete_keys(prefix)


if __name__ == "__main__":
    main()
