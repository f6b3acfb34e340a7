"""CPU time of the recommender's per-request calls on Beauty's 12,101 products (issue 12 §6 budget).

    .venv/bin/python -m bench.personalize_latency [--requests 2000] [--out bench/results/personalize_latency.json]

The served blend (learned from seq[:-2]) answers real shoppers' test inputs (seq[:-1], median 7
steps, up to 203, the newest 50 used): ``rerank`` of 20 retrieval candidates (the with-a-query path),
``for_you`` of 10 (no query), ``for_you`` for a cold shopper, and ``for_you`` in a category. Times
are wall-clock per call, single thread, after a warm-up; p50 / p99 over ``--requests`` calls each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from service.evaluation.datasets import resolve_datasets_dir
from service.evaluation.next_item import build_eval_model, load_beauty
from service.personalize.contract import EventType, Interaction
from service.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = load_beauty(resolve_datasets_dir(load_settings().datasets_dir))
    blend = build_eval_model(data).blend
    ids = blend.ids
    histories, _ = data.split("test")
    rng = np.random.default_rng(5)
    chosen = rng.choice(len(histories), args.requests)
    inputs = [
        [Interaction(ids[p], EventType.purchase, i) for i, p in enumerate(histories[s].positions)] for s in chosen
    ]
    candidates = [list(rng.choice(ids, 20, replace=False)) for _ in range(args.requests)]
    calls = {
        "rerank 20 candidates": lambda h, c: blend.rerank(h, c),
        "for_you 10": lambda h, c: blend.for_you(h, 10),
        "for_you 10, cold shopper": lambda h, c: blend.for_you([], 10),
        "for_you 10, cold, category": lambda h, c: blend.for_you([], 10, category="Beauty"),
    }
    rows = {}
    for name, call in calls.items():
        for h, c in zip(inputs[:50], candidates[:50]):
            call(h, c)
        times = []
        for h, c in zip(inputs, candidates):
            started = time.perf_counter()
            call(h, c)
            times.append(time.perf_counter() - started)
        ms = np.array(times) * 1000
        rows[name] = {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}
        print(name, rows[name], flush=True)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other sessions",
        "load_average": os.getloadavg()[0],
        "products": len(ids),
        "requests": args.requests,
        "calls": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
