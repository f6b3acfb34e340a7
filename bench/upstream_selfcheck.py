"""Measure the scripted upstream's own overhead through the openai SDK (keep-alive).

Starts ``python -m tests.support.openai_upstream`` in its own process (as benchmarks
do, so client and server do not share a GIL), then for each latency setting runs
1 and N concurrent clients and prints per-request p50/p99 and throughput::

    python bench/upstream_selfcheck.py                       # latency 0 and 0.2, 1 and 32 clients
    python bench/upstream_selfcheck.py --clients 1 32 128 --latency 0.2
    python bench/upstream_selfcheck.py --base-url http://127.0.0.1:8099/v1 --latency 0.2  # already running
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import openai

REPO_ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "system", "content": "You are a shopping guide. Answer in JSON."},
    {"role": "user", "content": "我想买一款适合冬天穿的羽绒服\n[p1] 羽绒服 A\n[p2] 羽绒服 B\n[p3] 羽绒服 C"},
]
REPLY = '{"items": [{"id": "p1", "reason": "warm"}, {"id": "p2", "reason": "light"}]}'


def cpu_seconds(pid: int | None) -> float:
    """User+system CPU time of process ``pid`` (Linux /proc); NaN when unknown."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def upstream_process(latency: float) -> Iterator[tuple[str, int | None]]:
    """Run the upstream in a child process; yield its base URL and pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0",
         "--latency", str(latency), "--reply", REPLY],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().split()  # "listening <base_url>"
        if len(line) != 2:
            raise RuntimeError("upstream did not start")
        yield line[1], proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(base_url: str, server_pid: int | None, clients: int, requests_per_client: int) -> dict[str, float]:
    """``clients`` threads sharing one SDK client (pooled keep-alive connections)."""
    client = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0, timeout=30)

    def one_client(_: int) -> list[float]:
        out = []
        for _ in range(requests_per_client):
            t0 = time.perf_counter()
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            out.append(time.perf_counter() - t0)
        return out

    barrier = threading.Barrier(clients)

    def warm(_: int) -> None:  # all at once, so the pool opens one connection per client
        barrier.wait()
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(warm, range(clients)))
        cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
        per_client = list(pool.map(one_client, range(clients)))
        wall, cpu = time.perf_counter() - t0, cpu_seconds(server_pid) - cpu0
    samples = [s for c in per_client for s in c]
    return {
        "n": len(samples),
        "p50_ms": 1000 * statistics.median(samples),
        "p99_ms": 1000 * percentile(samples, 0.99),
        "max_ms": 1000 * max(samples),
        "req_per_s": len(samples) / wall,
        "server_cpu_ms": 1000 * cpu / len(samples),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.2])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 32])
    p.add_argument("--seconds", type=float, default=3.0, help="target duration per scenario")
    p.add_argument("--base-url", help="measure an upstream already running (its latency must match --latency)")
    args = p.parse_args()

    print(f"{'latency':>8} {'clients':>8} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}"
          f" {'srv cpu ms/req':>15}")
    for latency in args.latency:
        with (upstream_process(latency) if not args.base_url else _given(args.base_url)) as (base_url, pid):
            for clients in args.clients:
                # size the run to ~--seconds: at latency 0 a request costs ~1-3 ms of client CPU
                per_request = max(latency, 0.002 * clients)
                per_client = max(5, int(args.seconds / per_request))
                r = run(base_url, pid, clients, per_client)
                print(f"{latency:>8.3f} {clients:>8d} {r['n']:>6d} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                      f" {r['max_ms']:>8.1f} {r['req_per_s']:>8.0f} {r['server_cpu_ms']:>15.2f}", flush=True)
    print("srv cpu ms/req: the upstream process's own CPU per request (1/it ~ its req/s ceiling on one core);"
          " p50 above the latency at many clients is this one client process's SDK CPU, not the server.")


@contextmanager
def _given(base_url: str) -> Iterator[tuple[str, None]]:
    yield base_url, None


if __name__ == "__main__":
    main()
