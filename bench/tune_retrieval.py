"""Tune retrieval on the *tune* half of a judged dataset; report the chosen setting on the *test* half.

Run from the repository root::

    python -m bench.tune_retrieval --dataset crowdflower
    python -m bench.tune_retrieval --dataset homedepot --titles 3 4 --bs 0.6 0.75 \
        --alphas 0.5 0.6 0.7 --floors 0.0 0.3 --rrf-ks 60   # a smaller grid: 5,900 tune queries, 53k products

Grid: BM25 field weights (title vs description) and ``b``; then, over the best BM25, the hybrid
fusion (weighted sum: alpha and dense floor; RRF: k). Each candidate is scored by nDCG@10 over the
full catalog on the tune split (the hash split of :mod:`service.evaluation.runner`); only the
winners are then evaluated on the test split. Writes ``bench/results/tune_<dataset>.json``.
Embeddings come from the index directory (``SHOPGUIDE_INDEX_DIR``), computed on the first run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

from service.evaluation.baselines import PlainBm25
from service.evaluation.datasets import load_dataset
from service.evaluation.runner import EvalReport, RetrieverFactory, evaluate
from service.retrieve.dense import load_or_build_dense
from service.retrieve.factory import build_embedder
from service.retrieve.hybrid import HybridParams, HybridRetriever
from service.retrieve.lexical import BM25Params, FieldWeights, LexicalIndex
from service.retrieve.tokenize import Analyzer
from service.settings import load_settings

RESULTS = Path(__file__).parent / "results"
TITLE_WEIGHTS = (1, 2, 3, 4)
B_VALUES = (0.5, 0.6, 0.75, 0.9)
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FLOORS = (0.0, 0.2, 0.3, 0.4)
RRF_KS = (10, 30, 60)


def ndcg(report: EvalReport, name: str, view: str = "full") -> float:
    row = next(r for r in report.rows if r.retrieval == name and r.view == view)
    return float(row.metrics["ndcg@10"] or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--datasets-dir", type=Path)
    parser.add_argument("--titles", type=int, nargs="+", default=TITLE_WEIGHTS, help="title weights to try")
    parser.add_argument("--bs", type=float, nargs="+", default=B_VALUES, help="BM25 b values to try")
    parser.add_argument("--alphas", type=float, nargs="+", default=ALPHAS)
    parser.add_argument("--floors", type=float, nargs="+", default=FLOORS)
    parser.add_argument("--rrf-ks", type=int, nargs="+", default=RRF_KS)
    args = parser.parse_args()

    settings = load_settings()
    dataset = load_dataset(args.dataset, datasets_dir=args.datasets_dir)
    catalog = dataset.catalog
    analyzer = Analyzer(cache_dir=settings.index_dir / "jieba")
    started = time.perf_counter()

    # 1. BM25: title weight (description 1; the eval catalogs hold no other fields) x b.
    lexical: dict[tuple[int, float], LexicalIndex] = {}
    bm25_scores: dict[tuple[int, float], float] = {}
    for title, b in itertools.product(args.titles, args.bs):
        index = LexicalIndex.build(catalog, analyzer, FieldWeights(title=title), BM25Params(b=b))
        lexical[(title, b)] = index
        report = evaluate(dataset, {"bm25": lambda _c, i=index: i}, ("full",), split="tune")
        bm25_scores[(title, b)] = ndcg(report, "bm25")
        print(f"bm25 title={title} b={b}: tune nDCG@10 {bm25_scores[(title, b)]:.4f}", flush=True)
    best_lexical_key = max(bm25_scores, key=bm25_scores.__getitem__)
    best_lexical = lexical[best_lexical_key]

    # 2. Fusion over the best BM25 and the service's embeddings.
    dense = load_or_build_dense(catalog, settings.index_dir, build_embedder(settings))
    fusion: dict[str, float] = {}
    candidates: dict[str, HybridParams] = {}
    for alpha, floor in itertools.product(args.alphas, args.floors):
        candidates[f"weighted alpha={alpha} floor={floor}"] = HybridParams(alpha=alpha, dense_floor=floor)
    for k, floor in itertools.product(args.rrf_ks, args.floors):
        candidates[f"rrf k={k} floor={floor}"] = HybridParams(fusion="rrf", rrf_k=k, dense_floor=floor)
    for name, params in candidates.items():
        retriever = HybridRetriever(best_lexical, dense, params)
        fusion[name] = ndcg(evaluate(dataset, {name: lambda _c, r=retriever: r}, ("full",), split="tune"), name)
        print(f"{name}: tune nDCG@10 {fusion[name]:.4f}", flush=True)
    best_weighted = max((n for n in fusion if n.startswith("weighted")), key=fusion.__getitem__)
    best_rrf = max((n for n in fusion if n.startswith("rrf")), key=fusion.__getitem__)

    # 3. The winners (and the defaults) on the held-out test split, both views.
    default_lexical = lexical.get((FieldWeights().title, BM25Params().b)) or LexicalIndex.build(catalog, analyzer)
    finalists: dict[str, RetrieverFactory] = {
        "bm25-baseline": PlainBm25.build,
        "bm25 (defaults)": lambda _c: default_lexical,
        f"bm25 title={best_lexical_key[0]} b={best_lexical_key[1]}": lambda _c: best_lexical,
        f"hybrid {best_weighted}": lambda _c: HybridRetriever(best_lexical, dense, candidates[best_weighted]),
        f"hybrid {best_rrf}": lambda _c: HybridRetriever(best_lexical, dense, candidates[best_rrf]),
        "hybrid (defaults)": lambda _c: HybridRetriever(default_lexical, dense, HybridParams()),
    }
    test = evaluate(dataset, finalists, ("full", "pool"), split="test")
    print(test.to_table())

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"tune_{dataset.name}.json"
    out.write_text(
        json.dumps(
            {
                "dataset": dataset.name,
                "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
                "tune_split": "tune (hash of qid, salt shopguide-eval-split-v1, first half)",
                "bm25_grid": {f"title={t} b={b}": round(v, 4) for (t, b), v in bm25_scores.items()},
                "best_bm25": {"title": best_lexical_key[0], "b": best_lexical_key[1]},
                "fusion_grid": {k: round(v, 4) for k, v in fusion.items()},
                "best_weighted": best_weighted,
                "best_rrf": best_rrf,
                "test": test.to_dict(),
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
