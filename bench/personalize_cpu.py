"""What personalization costs a request, at 12k products: CPU with and without a shopper, and the for-you path.

    python -m bench.personalize_cpu [--requests 300] [--shoppers 2000]

Catalog and shoppers are Amazon Beauty 2014 (12,101 real product titles, real shopper
sequences; read from ``../shared/datasets/amazon-beauty-2014``, never copied). The app's own
dependencies are built as ``shopguide serve`` builds them (BM25 index, event store in the real
Redis under a fresh prefix, the recommender the app factory builds, trained on every sequence),
except the provider chain: one in-process stand-in model that records when it is called, so the
time "before the model call" is measured exactly and no HTTP server shares the CPU.

Three requests are interleaved, ``--requests`` of each, the answer cache off (every request
computes; retrieval memo off, so each arm retrieves):

- ``anonymous``: a query, no user;
- ``personal``: the same query for a shopper whose history is in the store (re-ranked pool);
- ``for_you``: no query, the same shopper (candidates from the recommender).

Reports CPU per request (``time.thread_time``: the request's own thread, Redis waits excluded) for
the whole request and up to the model call, and wall time up to the model call, as p50/p99.
Writes ``bench/results/personalize_cpu.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import platform
import pstats
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import redis

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.events.store import StoredEvent
from service.personalize.contract import EventType, Interaction, ShopperSequence
from service.provider.base import ChatRequest, Completion
from service.provider.chain import ProviderChain
from service.validate.recommend import RecommendRequest, User
from tests.support.scripted_provider import ScriptedProvider

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUERIES = ("moisturizer for dry skin", "red lipstick", "shampoo for curly hair", "nail polish", "sunscreen spf 50",
           "eye cream", "perfume for women", "hair dryer", "makeup brush set", "face mask")


def dataset_dir() -> Path:
    for parent in [ROOT, *ROOT.parents]:
        candidate = parent / "shared" / "datasets" / "amazon-beauty-2014"
        if candidate.is_dir():
            return candidate
    raise SystemExit("amazon-beauty-2014 not found under any shared/datasets above the repository")


def beauty(directory: Path) -> tuple[Catalog, list[tuple[str, list[str]]]]:
    """The catalog (asin -> title) and every shopper's asins, oldest first."""
    to_int = json.loads((directory / "item_id_to_int.json").read_text())
    with (directory / "products_lookup.csv").open(newline="") as fh:
        names = {int(row["global_product_id"]): row["name"] for row in csv.DictReader(fh)}
    products = [
        Product(id=asin, title=(names.get(n) or asin)[:1000], category="Beauty", in_stock=True)
        for asin, n in sorted(to_int.items(), key=lambda kv: kv[1])
    ]
    shoppers = []
    for line in (directory / "user_sequence.txt").read_text().splitlines():
        user, *items = line.split()
        shoppers.append((user, items))
    return Catalog.of(products), shoppers


class Recording:
    """A provider that notes the thread CPU and wall clock at the moment it is called."""

    name = "bench"

    def __init__(self) -> None:
        self._inner = ScriptedProvider(name="bench", model="bench-model")
        self.called_cpu = self.called_wall = 0.0

    def complete(self, request: ChatRequest) -> Completion:
        self.called_cpu, self.called_wall = time.thread_time(), time.perf_counter()
        return self._inner.complete(request)

    def describe(self) -> dict:
        return {"name": self.name, "model": "bench-model"}


class Steps:
    """CPU (``time.thread_time``) spent in each step of the pipeline, summed per request."""

    def __init__(self, pipeline) -> None:
        from service.pipeline import recommend

        self._current: dict[str, float] = {}
        self._samples: dict[tuple[str, str], list[float]] = {}
        personalizer = pipeline._personalizer
        targets = [
            (personalizer, "shopper"), (personalizer, "rerank"), (personalizer, "for_you"),
            (personalizer, "prompt_history"),
            (personalizer.recommender, "rerank"), (personalizer.recommender, "for_you"),
            (pipeline, "_retrieve"), (pipeline, "_key"), (pipeline, "_impression"), (pipeline, "_checked"),
            (pipeline._prompts, "chat"), (pipeline._flow, "run"),
        ]
        self.names = []
        for owner, attr in targets:
            name = f"{type(owner).__name__}.{attr}"
            self.names.append(name)
            setattr(owner, attr, self._timed(name, getattr(owner, attr)))
        recommend.annotate = self._timed("annotate", recommend.annotate)
        self.names.append("annotate")

    def _timed(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._current[name] = self._current.get(name, 0.0) + time.thread_time() - start
        return timed

    def finish(self, arm: str | None) -> None:
        if arm is not None:
            for name in self.names:
                self._samples.setdefault((arm, name), []).append(self._current.get(name, 0.0) * 1000)
        self._current = {}

    def p50(self, arm: str, name: str) -> float:
        return statistics.median(self._samples.get((arm, name), [0.0]))


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--shoppers", type=int, default=2000, help="shoppers whose history goes into the store")
    parser.add_argument("--breakdown", action="store_true",
                        help="also report each step's CPU per request (p50 ms, inclusive of the steps it calls)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile each arm (cProfile) and print where its time goes, top functions first")
    args = parser.parse_args(argv)
    from service.app import build_dependencies
    from service.retrieve.factory import build_retriever
    from service.settings import load_settings

    catalog, shoppers = beauty(dataset_dir())
    prefix = f"bench-pcpu-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        redis_url=REDIS_URL, cache_prefix=prefix, cache_ttl_s=0, retrieval_memo=0, log_level="WARNING",
        index_dir=Path(tempfile.gettempdir()) / "shopguide-bench-index", local_preload=False,
        openai_api_key="sk-bench", openai_base_url="http://127.0.0.1:9/v1", providers="openai",
    )
    started = time.perf_counter()
    retriever = build_retriever(catalog, settings)
    index_s = time.perf_counter() - started
    provider = Recording()
    deps = build_dependencies(settings, catalog=catalog, retriever=retriever, chain=ProviderChain([provider]))
    keys, store = deps.personalizer.keys, deps.events
    if deps.follower is not None:  # the model is fit on every sequence below; the stream holds only a sample
        deps.follower.stop()
    base_ms = 1_700_000_000_000
    sequences = []
    for user, items in shoppers:
        key = keys.user(user)
        sequences.append(ShopperSequence(key, tuple(
            Interaction(a, EventType.purchase, base_ms + i * 60_000) for i, a in enumerate(items))))
    started = time.perf_counter()
    recommender = deps.personalizer.recommender
    if hasattr(recommender, "model"):  # the learned blend, rebuilt from every sequence (as a rebuild would)
        from service.personalize.factory import build_blend

        recommender.model = build_blend(settings, catalog, sequences, lexical=retriever)
    elif hasattr(recommender, "fit"):
        recommender.fit(sequences)
    fit_s = time.perf_counter() - started
    loaded = [s for s in sequences[: args.shoppers]]
    for start in range(0, len(loaded), 200):
        batch = [StoredEvent(f"b{j}-{n}", s.user_key, i) for j, s in enumerate(loaded[start:start + 200], start)
                 for n, i in enumerate(s.interactions)]
        store.append(batch)
    users = [user for user, _ in shoppers[: args.shoppers]]

    pipeline = deps.recommend
    profiles = {a: cProfile.Profile() for a in ("anonymous", "personal", "for_you")} if args.profile else {}
    steps = Steps(pipeline) if args.breakdown else None
    rows: dict[str, dict[str, list[float]]] = {a: {"cpu": [], "cpu_to_model": [], "wall_to_model": []}
                                               for a in ("anonymous", "personal", "for_you")}
    try:
        for i in range(args.requests + 30):
            query, user = QUERIES[i % len(QUERIES)], users[(i * 37) % len(users)]
            for arm, request in (
                ("anonymous", RecommendRequest(query=query, k=5)),
                ("personal", RecommendRequest(query=query, k=5, user=User(id=user))),
                ("for_you", RecommendRequest(k=5, user=User(id=user))),
            ):
                profile = profiles.get(arm) if i >= 30 else None
                if profile is not None:
                    profile.enable()
                cpu0, wall0 = time.thread_time(), time.perf_counter()
                answer = pipeline.run(request, uuid.uuid4().hex)
                cpu1 = time.thread_time()
                if steps is not None:
                    steps.finish(arm if i >= 30 else None)
                if profile is not None:
                    profile.disable()
                assert answer.items and not answer.degraded, (arm, answer)
                if i >= 30:  # warm-up: imports, connection pools, the analyzer's caches
                    rows[arm]["cpu"].append((cpu1 - cpu0) * 1000)
                    rows[arm]["cpu_to_model"].append((provider.called_cpu - cpu0) * 1000)
                    rows[arm]["wall_to_model"].append((provider.called_wall - wall0) * 1000)
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)
        client.close()

    summary = {arm: {f"{m}_p{q}_ms": round(pct(v, q), 3) for m, v in ms.items() for q in (50, 99)}
               for arm, ms in rows.items()}
    extra = summary["personal"]["cpu_p50_ms"] - summary["anonymous"]["cpu_p50_ms"]
    machine = (f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · "
               f"Python {platform.python_version()} · load average {os.getloadavg()[0]:.1f} at the end")
    result = {"bench": "personalize_cpu", "machine": machine, "products": len(catalog), "requests": args.requests,
              "shoppers_in_store": len(loaded), "recommender": type(recommender).__name__,
              "fit_s": round(fit_s, 2), "index_s": round(index_s, 2), "arms": summary,
              "personal_extra_cpu_p50_ms": round(extra, 3), "date": time.strftime("%Y-%m-%d")}
    if not profiles and steps is None:  # profiled or wrapped, times are inflated: never recorded as results
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "personalize_cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmachine: {machine}; {len(catalog):,} products; {type(recommender).__name__} fit on "
          f"{sum(len(s.interactions) for s in sequences):,} interactions in {fit_s:.1f} s\n")
    print("| request | CPU p50 ms | CPU p99 ms | CPU to model p50 / p99 ms | wall to model p50 / p99 ms |")
    print("|---|---|---|---|---|")
    for arm, s in summary.items():
        print(f"| {arm} | {s['cpu_p50_ms']:.2f} | {s['cpu_p99_ms']:.2f} | {s['cpu_to_model_p50_ms']:.2f} / "
              f"{s['cpu_to_model_p99_ms']:.2f} | {s['wall_to_model_p50_ms']:.2f} / {s['wall_to_model_p99_ms']:.2f} |")
    print(f"\npersonalized minus anonymous, CPU p50: {extra:+.2f} ms")
    if steps is not None:
        print("\n| step (CPU p50 ms per request, inclusive) | " + " | ".join(rows) + " |")
        print("|---|" + "---|" * len(rows))
        for name in steps.names:
            print(f"| {name} | " + " | ".join(f"{steps.p50(arm, name):.3f}" for arm in rows) + " |")
    for arm, profile in profiles.items():
        print(f"\n## {arm}: where the time goes (cProfile, {args.requests} requests; profiling inflates the totals)")
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
