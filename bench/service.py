"""Service overhead under gunicorn against a loopback upstream with a fixed latency.

    python -m bench.service [--latency 0.2] [--duration 10] [--clients 1,16,64]

Starts, each in its own process: the scripted OpenAI-compatible upstream
(``tests.support.openai_upstream``, answering like a model that follows the prompt
after ``--latency`` seconds), and ``shopguide serve`` (gunicorn, threaded workers)
pointed at it, with the answer cache in the real Redis under a fresh key prefix.
Load comes from ``wrk`` (``apt-get install wrk``), which costs far less CPU than a
Python client on a 2-core box.

Reported per client count:
- upstream alone: the fake upstream's own latency above its fixed delay, driven directly, with a short body
  (the floor's size) and with the body shopguide sends (captured in process first): their difference is
  the stand-in model reading a longer prompt, inside shopguide's figures and not the floor's;
- floor: ``bench.floor_app`` (gunicorn + Flask relaying one completion through the openai
  SDK, nothing else) under the same gunicorn settings: what the stack alone adds here;
- cache miss: every request is a new query, so each one waits for the upstream;
  overhead = latency - fixed upstream delay (a constant shift, so percentiles subtract);
- cache hit: requests cycle through queries answered beforehand.
- default chain (issue 17): ``openai,local`` with ``shopguide serve``'s supervised model server, each
  figure also given as a ratio to the hosted-only chain and the floor, in the same run.
Results go to ``bench/results/service.json``; markdown tables are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import redis

from service.ops.gunicorn import default_workers
from service.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
WRK = ROOT / "bench" / "wrk"
RESULTS = ROOT / "bench" / "results"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
HIT_QUERIES = 10  # bench/wrk/recommend.lua cycles through this many queries


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shopguide_body(directory: Path) -> Path:
    """The chat-completions body shopguide sends upstream for a miss of recommend.lua's first query, in a file.

    Captured in process (the app built as ``shopguide serve`` builds it, its data in ``directory``) against the
    scripted upstream: driven with it, the upstream alone shows how much longer the stand-in model takes to read
    shopguide's prompt (20 candidates' facts and the schema) than the floor's two short messages.
    """
    from service.app import create_app
    from tests.support.openai_upstream import OpenAIUpstream, reply_fn
    from tests.support.picks import pick_first_k

    with OpenAIUpstream() as up:
        up.default(reply_fn(pick_first_k))
        settings = load_settings(
            providers="openai", openai_base_url=up.base_url, openai_api_key="sk-bench", data_dir=directory, redis_url=None,
            log_level="WARNING",
        )
        answer = create_app(settings).test_client().post("/v1/recommend", json={"query": "warm down jacket for winter x1", "k": 5})
        assert answer.status_code == 200 and up.chat_requests, answer.get_data(as_text=True)
        path = directory / "shopguide-body.json"
        path.write_bytes(up.chat_requests[-1].raw)
    return path


def start_upstream(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0", "--latency", str(latency),
         "--reply-fn", "tests.support.picks:pick_first_k"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()  # "listening <base_url>"
    if not line.startswith("listening "):
        raise SystemExit(f"upstream did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def start_service(
    base_url: str, port: int, prefix: str, workers: int | None, threads: int, providers: str = "openai"
) -> subprocess.Popen:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench",
        "SHOPGUIDE_PROVIDERS": providers,
        "SHOPGUIDE_LOCAL_PORT": str(free_port()),  # the default chain's model server (a supervised child)
        "REDIS_URL": REDIS_URL,
        "SHOPGUIDE_CACHE_PREFIX": prefix,
        **({"SHOPGUIDE_WORKERS": str(workers)} if workers else {}),
        "SHOPGUIDE_THREADS": str(threads),
        "SHOPGUIDE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=ROOT, env=env)
    return wait_until_answering(proc, urllib.request.Request(f"http://127.0.0.1:{port}/readyz"), "shopguide", 300)


def start_floor(base_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
         "--reuse-port", "--keep-alive", "5", "--log-level", "warning", "-b", f"127.0.0.1:{port}",
         "bench.floor_app:create_app()"],
        cwd=ROOT, env={**os.environ, "OPENAI_BASE_URL": base_url},
    )
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/recommend", data=b'{"query": "x"}',
                                     headers={"Content-Type": "application/json"})
    return wait_until_answering(proc, request, "the floor app", 60)


def wait_until_answering(proc: subprocess.Popen, request: urllib.request.Request, name: str, timeout_s: float) -> subprocess.Popen:
    """``proc`` once ``request`` gets a 200; killed, and the bench stopped, if not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{name} did not start answering")


def wrk(url: str, script: Path, clients: int, duration: float, *args: str) -> dict:
    cmd = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{int(duration)}s", "--timeout", "10s", "-s", str(script), url]
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it (gunicorn's workers, the
    supervised model server), from /proc: what a run cost the machine, beside what it served."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        parents.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += (int(stats[current][11]) + int(stats[current][12])) / ticks
        todo.extend(parents.get(current, []))
    return total


def measured(proc: subprocess.Popen, url: str, script: Path, clients: int, duration: float, *args: str) -> dict:
    """:func:`wrk` against ``url``, with the CPU ``proc``'s process tree spent per request in ``cpu_ms``."""
    before = tree_cpu_s(proc.pid)
    stats = wrk(url, script, clients, duration, *args)
    stats["cpu_ms"] = (tree_cpu_s(proc.pid) - before) * 1000 / max(stats["requests"], 1)
    return stats


def warm_hits(port: int) -> None:
    """Answer the queries the hit run cycles through, so they are cached."""
    for _ in range(2):
        proc = subprocess.run(
            ["wrk", "-t1", "-c1", f"-d{max(2, HIT_QUERIES * 0.25):.0f}s", "-s", str(WRK / "recommend.lua"),
             f"http://127.0.0.1:{port}", "--", "hit"],
            capture_output=True, text=True, check=True,
        )
        assert proc.returncode == 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--workers", type=int, default=None, help="default: the service's own (2 per core here)")
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("bench.service needs wrk: apt-get install wrk")
    clients = [int(c) for c in args.clients.split(",")]
    scratch = tempfile.TemporaryDirectory(prefix="bench-service-")
    body_file = shopguide_body(Path(scratch.name))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    upstream, base_url = start_upstream(args.latency)
    port, floor_port = free_port(), free_port()
    service = start_service(base_url, port, prefix, args.workers, args.threads)
    workers = args.workers or default_workers(load_settings(providers="openai", redis_url=REDIS_URL))
    floor = start_floor(base_url, floor_port, workers, args.threads)
    # issue 17 §4: the default chain (openai,local: `shopguide serve` starts the model server beside its
    # workers), measured in the same run; its figures are reported as ratios to the hosted-only chain and the floor.
    default_port = free_port()
    default = start_service(base_url, default_port, prefix + "-d", args.workers, args.threads, "openai,local")
    fixed_ms = args.latency * 1000
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        wrk(url, WRK / "recommend.lua", 16, 3, "miss", "warm")  # warm-up: connections, jieba, the SDK's pools
        wrk(f"http://127.0.0.1:{floor_port}", WRK / "recommend.lua", 16, 3, "miss", "warm")
        for c in clients:
            # One client makes 5 requests a second: a longer run, so its p99 is not just the slowest of 50.
            seconds = max(args.duration, 30) if c == 1 else args.duration
            up = wrk(base_url.removesuffix("/v1") + "/v1/chat/completions", WRK / "upstream.lua", c, seconds)
            up_long = wrk(base_url.removesuffix("/v1") + "/v1/chat/completions", WRK / "upstream.lua", c, seconds,
                          str(body_file))
            bare = measured(floor, f"http://127.0.0.1:{floor_port}", WRK / "recommend.lua", c, seconds, "miss", f"f{c}")
            miss = measured(service, url, WRK / "recommend.lua", c, seconds, "miss", f"r{c}")
            chain = measured(default, f"http://127.0.0.1:{default_port}", WRK / "recommend.lua", c, seconds, "miss", f"d{c}")
            rows.append(
                {
                    "clients": c,
                    "upstream_self_p50_ms": up["p50_us"] / 1000 - fixed_ms,
                    "upstream_self_p99_ms": up["p99_us"] / 1000 - fixed_ms,
                    "upstream_rps": up["rps"],
                    # the same, for the body shopguide sends: what the stand-in model's reading of the longer
                    # prompt adds to shopguide's figures and not to the floor's
                    "upstream_self_shopguide_body_p50_ms": up_long["p50_us"] / 1000 - fixed_ms,
                    "upstream_self_shopguide_body_p99_ms": up_long["p99_us"] / 1000 - fixed_ms,
                    "floor_overhead_p50_ms": bare["p50_us"] / 1000 - fixed_ms,
                    "floor_overhead_p99_ms": bare["p99_us"] / 1000 - fixed_ms,
                    "floor_rps": bare["rps"],
                    "floor_cpu_ms": bare["cpu_ms"],
                    "miss_cpu_ms": miss["cpu_ms"],
                    "default_chain_cpu_ms": chain["cpu_ms"],
                    "miss_overhead_p50_ms": miss["p50_us"] / 1000 - fixed_ms,
                    "miss_overhead_p99_ms": miss["p99_us"] / 1000 - fixed_ms,
                    "miss_rps": miss["rps"],
                    "miss_errors": miss["errors"],
                    "default_chain_overhead_p50_ms": chain["p50_us"] / 1000 - fixed_ms,
                    "default_chain_overhead_p99_ms": chain["p99_us"] / 1000 - fixed_ms,
                    "default_chain_rps": chain["rps"],
                    "default_chain_errors": chain["errors"],
                    "ideal_rps": c / args.latency,
                }
            )
        warm_hits(port)
        for row in rows:
            hit = wrk(url, WRK / "recommend.lua", row["clients"], args.duration, "hit")
            row.update(hit_p50_ms=hit["p50_us"] / 1000, hit_p99_ms=hit["p99_us"] / 1000, hit_rps=hit["rps"],
                       hit_errors=hit["errors"])
    finally:
        service.terminate()
        default.terminate()
        floor.terminate()
        upstream.terminate()
        floor.wait(timeout=60)
        service.wait(timeout=60)
        default.wait(timeout=60)
        upstream.wait(timeout=10)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        scratch.cleanup()

    machine = f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · Python {platform.python_version()}"
    result = {"bench": "service", "machine": machine, "latency_s": args.latency, "duration_s": args.duration,
              "workers": workers, "threads": args.threads, "rows": rows, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "service.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmachine: {machine}; upstream latency {fixed_ms:.0f} ms; gunicorn {result['workers']} workers x {args.threads} threads\n")
    print("| clients | upstream self p50/p99 ms | floor overhead p50/p99 ms (req/s) | miss overhead p50 ms | miss overhead p99 ms | miss req/s (ideal) | hit p50 ms | hit p99 ms | hit req/s | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['upstream_self_p50_ms']:.2f} / {r['upstream_self_p99_ms']:.2f} "
            f"| {r['floor_overhead_p50_ms']:.2f} / {r['floor_overhead_p99_ms']:.2f} ({r['floor_rps']:.0f}) "
            f"| {r['miss_overhead_p50_ms']:.2f} | {r['miss_overhead_p99_ms']:.2f} | {r['miss_rps']:.0f} ({r['ideal_rps']:.0f}) "
            f"| {r['hit_p50_ms']:.2f} | {r['hit_p99_ms']:.2f} | {r['hit_rps']:.0f} | {r['miss_errors'] + r['hit_errors']} |"
        )
    print("\nAgainst the floors (issue 17 §4 targets in brackets), same run:\n")
    print("| clients | default chain / hosted-only miss req/s [≥ 0.90 at 64] | hosted-only / floor req/s [≥ 0.90 at 64] "
          "| hosted-only − floor p50 ms [≤ 3 at 1] | of which the upstream reading the longer prompt, p50 ms "
          "| hosted-only − floor p99 ms [≤ 10 at 1] | default chain − floor p50 / p99 ms "
          "| CPU ms a request: floor / hosted-only / default chain | default chain errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['default_chain_rps'] / r['miss_rps']:.2f} | {r['miss_rps'] / r['floor_rps']:.2f} "
            f"| {r['miss_overhead_p50_ms'] - r['floor_overhead_p50_ms']:.2f} "
            f"| {r['upstream_self_shopguide_body_p50_ms'] - r['upstream_self_p50_ms']:.2f} "
            f"| {r['miss_overhead_p99_ms'] - r['floor_overhead_p99_ms']:.2f} "
            f"| {r['default_chain_overhead_p50_ms'] - r['floor_overhead_p50_ms']:.2f} / "
            f"{r['default_chain_overhead_p99_ms'] - r['floor_overhead_p99_ms']:.2f} "
            f"| {r['floor_cpu_ms']:.2f} / {r['miss_cpu_ms']:.2f} / {r['default_chain_cpu_ms']:.2f} | {r['default_chain_errors']} |"
        )


if __name__ == "__main__":
    main()
