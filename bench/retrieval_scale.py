"""Retrieval at 1k, 10k and 100k products built from real product titles: BM25 and hybrid.

Run from the repository root (needs ../shared/datasets or SHOPGUIDE_DATASETS_DIR)::

    python -m bench.retrieval_scale [--sizes 1000 10000 100000] [--queries 500]

Catalogs: the real titles of the Home Depot and CrowdFlower datasets (about 63k distinct), shuffled
with a fixed seed; beyond that, products are synthesized by joining the first half of one real title
to the second half of another (still real vocabulary and lengths). Queries: real search terms of
the two datasets. Reports, per size: index build time (BM25: analysis + matrix; hybrid: embedding
every product with all-MiniLM-L6-v2 on this machine's CPU), and p50/p99 of one ``search(q, n=20)``
over the query sample, for BM25 and for hybrid with an embedding-cache miss (the query is embedded)
and a hit (repeated query). Writes ``bench/results/retrieval_scale.json``.

Embeddings persist in ``--index-dir`` (default a directory under the system temp dir), so a rerun
measures latency without re-embedding; the build time reported is then the first run's, read back
from the results file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.evaluation.datasets import load_dataset
from service.retrieve.dense import DenseIndex, Embedder, dense_key, load_or_build_dense
from service.retrieve.hybrid import HybridRetriever
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer
from service.validate.recommend import Filters

RESULTS = Path(__file__).parent / "results" / "retrieval_scale.json"
SEED = 20261122


def real_titles_and_queries(datasets_dir: Path | None) -> tuple[list[str], list[str]]:
    titles: dict[str, None] = {}
    queries: dict[str, None] = {}
    for name in ("homedepot", "crowdflower"):
        dataset = load_dataset(name, datasets_dir=datasets_dir)
        titles.update(dict.fromkeys(p.title for p in dataset.products))
        queries.update(dict.fromkeys(q.text for q in dataset.queries))
    return list(titles), list(queries)


def catalog_of(size: int, titles: list[str]) -> Catalog:
    rng = random.Random(SEED)
    pool = titles[:]
    rng.shuffle(pool)
    chosen = pool[:size]
    while len(chosen) < size:
        a, b = rng.choice(pool).split(), rng.choice(pool).split()
        chosen.append(" ".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :]))
    return Catalog.of([Product(id=f"p{i:06d}", title=t[:1000]) for i, t in enumerate(chosen)])


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def latency(search, queries: list[str]) -> dict[str, float]:
    filters = Filters()
    for query in queries[:20]:  # warm caches of the analyzer, not the measured queries' embeddings
        search(query + " warmup", filters)
    samples = []
    for query in queries:
        started = time.perf_counter()
        search(query, filters)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--datasets-dir", type=Path)
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "shopguide-bench-index")
    parser.add_argument("--no-hybrid", action="store_true")
    args = parser.parse_args()

    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    previous_builds = {row["products"]: row.get("hybrid_build_s") for row in previous.get("rows", [])}
    titles, all_queries = real_titles_and_queries(args.datasets_dir)
    queries = random.Random(SEED).sample(all_queries, min(args.queries, len(all_queries)))
    analyzer = Analyzer()
    analyzer.warm_up()
    embedder = None if args.no_hybrid else Embedder(device="cpu")
    rows = []
    for size in args.sizes:
        catalog = catalog_of(size, titles)
        started = time.perf_counter()
        lexical = LexicalIndex.build(catalog, analyzer)
        row: dict = {"products": size, "bm25_build_s": round(time.perf_counter() - started, 2)}
        row["bm25"] = latency(lambda q, f: lexical.search(q, f, 20), queries)
        if embedder is not None:
            embedded = (args.index_dir / dense_key(catalog, embedder)).is_dir()
            started = time.perf_counter()
            dense: DenseIndex = load_or_build_dense(catalog, args.index_dir, embedder)
            took = time.perf_counter() - started
            row["hybrid_build_s"] = previous_builds.get(size) if embedded else round(took, 1)
            row["hybrid_build_note"] = "from an earlier run (embeddings persisted)" if embedded else "measured"
            hybrid = HybridRetriever(lexical, dense)
            embedder.clear_cache()
            row["hybrid_miss"] = latency(lambda q, f: hybrid.search(q, f, 20), queries)  # each query embedded
            row["hybrid_hit"] = latency(lambda q, f: hybrid.search(q, f, 20), queries)  # embeddings cached
        rows.append(row)
        print(json.dumps(row), flush=True)

    result = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "queries": len(queries),
        "candidates": 20,
        "rows": rows,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
