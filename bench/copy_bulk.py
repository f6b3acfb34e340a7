"""Bulk copy throughput: ``shopguide copy`` against the loopback upstream in its own process.

The upstream (``python -m tests.support.openai_upstream``) answers every call
after a fixed latency with valid copy (``tests.support.copywriter:write_copy``),
so the ideal throughput is concurrency / latency. Reports the steady rate (between
10 % and 90 % done, read from the output file as it grows) and the end-to-end rate
(the CLI's own run time: child start-up, ramp and tail included). Prints and writes
``bench/results/copy_bulk.json``::

    python bench/copy_bulk.py                           # 3200 products, concurrency 32, latency 0.3 s
    python bench/copy_bulk.py --products 400 --concurrency 16 --latency 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.catalogs import write_catalog  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _watch(proc: subprocess.Popen, out: Path) -> list[tuple[float, int]]:
    """Sample the output file's line count every 50 ms (reading only what was appended) until ``proc`` exits."""
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    lines = 0
    handle = None
    while proc.poll() is None:
        if handle is None and out.exists():
            handle = out.open("rb")
        if handle is not None:
            lines += handle.read().count(b"\n")
        samples.append((time.monotonic() - started, lines))
        time.sleep(0.05)
    if handle is not None:
        handle.close()
    return samples


def _steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Products per second between 10 % and 90 % done: the rate without start-up ramp and tail."""
    t_low, n_low = next((t, n) for t, n in samples if n >= 0.1 * total)
    t_high, n_high = next((t, n) for t, n in samples if n >= 0.9 * total)
    return (n_high - n_low) / (t_high - t_low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=3200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--processes", type=int, help="passed to shopguide copy (default: its own choice)")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "copy_bulk.json"))
    args = parser.parse_args()

    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0", "--latency", str(args.latency),
         "--reply-fn", "tests.support.copywriter:write_copy"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = upstream.stdout.readline().split()[1]
        with tempfile.TemporaryDirectory() as tmp:
            catalog = write_catalog(Path(tmp) / "catalog.jsonl", args.products)
            out = Path(tmp) / "copy.jsonl"
            env = {
                **os.environ,
                "OPENAI_BASE_URL": base_url,
                "OPENAI_API_KEY": "bench",
                "SHOPGUIDE_PROVIDERS": "openai",
                "REDIS_URL": "",
                "PYTHONPATH": str(REPO_ROOT),
            }
            upstream_cpu = cpu_seconds(upstream.pid)
            children_cpu = _children_cpu()
            load_before = os.getloadavg()[0]
            started = time.monotonic()
            cli = subprocess.Popen(
                [sys.executable, "-m", "service", "copy", "--catalog", str(catalog), "--out", str(out),
                 "--concurrency", str(args.concurrency), "--quiet",
                 *(["--processes", str(args.processes)] if args.processes else [])],
                cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True,
            )
            progress = _watch(cli, out)  # (seconds since start, lines in the output file)
            stderr = cli.stderr.read()
            wall = time.monotonic() - started
            upstream_cpu = cpu_seconds(upstream.pid) - upstream_cpu
            cli_cpu = _children_cpu() - children_cpu
            if cli.returncode != 0:
                raise SystemExit(f"shopguide copy failed ({cli.returncode}):\n{stderr}")
            lines = out.read_text(encoding="utf-8").splitlines()
            records = [json.loads(line) for line in lines]
            summary = stderr.strip().splitlines()[-1]
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)

    ok = sum(r["status"] == "ok" for r in records)
    steady = _steady_rate(progress, len(records))
    # The CLI reports its own run time (after start-up: imports, catalog, index-free pipeline build).
    run_s = float(summary.split(" in ")[1].split("s ")[0])
    ideal = args.concurrency / args.latency
    throughput = len(records) / run_s
    result = {
        "products": args.products,
        "records": len(records),
        "ok": ok,
        "concurrency": args.concurrency,
        "processes": int(summary.split(" process(es)")[0].rsplit(" ", 1)[1]),
        "latency_s": args.latency,
        "ideal_products_per_s": round(ideal, 1),
        "run_s": round(run_s, 2),
        "steady_products_per_s": round(steady, 1),
        "steady_fraction_of_ideal": round(steady / ideal, 3),
        "throughput_products_per_s": round(throughput, 1),
        "fraction_of_ideal": round(throughput / ideal, 3),
        "wall_s_including_startup": round(wall, 2),
        "cli_cpu_s": round(cli_cpu, 2),
        "cli_cpu_ms_per_product": round(cli_cpu / len(records) * 1000, 2),
        "upstream_cpu_s": round(upstream_cpu, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        },
    }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
