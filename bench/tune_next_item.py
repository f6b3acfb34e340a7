"""Tune the personalization defaults on Beauty's VALIDATION targets only (coordinate search).

    .venv/bin/python -m bench.tune_next_item [--sample 8000] [--rounds 2] [--out bench/results/tune_next_item.json]

Each parameter in turn is tried at a few values with the others held at the best so far, on a fixed
sample of validation shoppers (input ``seq[:-2]``, target ``seq[-2]``; the model learns from
``seq[:-2]`` only). The score is R@10 + N@10. Test targets are never read here: the test row of
``shopguide eval next-item`` is computed once with the defaults this chose.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from service.evaluation.datasets import resolve_datasets_dir
from service.evaluation.next_item import evaluate_scorer, load_beauty, sample
from service.personalize.blend import Blend, BlendParams
from service.personalize.content import ContentParams, ContentSimilarity
from service.personalize.cooccur import CooccurParams, ItemToItem
from service.personalize.popular import Popularity
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer

GRID = {
    "cooccur.window": [3, 4, 5, 6, 8],
    "cooccur.distance_decay": [0.5, 0.6, 0.7, 0.8],
    "cooccur.backward": [0.0, 0.1, 0.2, 0.3, 0.5],
    "cooccur.alpha": [0.0, 0.15, 0.3, 0.5],
    "cooccur.beta": [0.1, 0.2, 0.3, 0.4],
    "cooccur.neighbors": [200, 400],
    "blend.recency": [0.5, 0.6, 0.7, 0.8],
    "blend.content": [0.6, 0.8, 1.0, 1.3],
    "blend.popular": [0.05, 0.1, 0.15, 0.25],
    "content.neighbors": [100, 200, 400],
    "content.max_df": [0.03, 0.05, 0.1],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", action="append", help="tune only these parameters")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    data = load_beauty(resolve_datasets_dir())
    train = data.training()
    lexical = LexicalIndex.build(data.catalog, Analyzer())
    histories, targets = data.split("validation")
    rows = sample(len(histories), args.sample)
    chosen, chosen_targets = [histories[i] for i in rows], targets[rows]
    popularity = Popularity.build(train)
    best = {"cooccur": CooccurParams(), "content": ContentParams(), "blend": BlendParams()}
    cache: dict[object, object] = {}

    def part(kind: str, params):  # type: ignore[no-untyped-def]
        key = (kind, params)
        if key not in cache:
            cache[key] = ItemToItem.build(train, params) if kind == "cooccur" else ContentSimilarity.build(lexical, params)
        return cache[key]

    def score(config: dict) -> tuple[float, dict[str, float]]:
        blend = Blend(data.catalog, part("cooccur", config["cooccur"]), part("content", config["content"]),
                      popularity, config["blend"])
        metrics = evaluate_scorer(blend.score_histories, chosen, chosen_targets, len(data.catalog))
        return metrics["recall@10"] + metrics["ndcg@10"], metrics

    trail = []
    current, metrics = score(best)
    print(f"start {current:.4f} {metrics}")
    for _ in range(args.rounds):
        for name, values in GRID.items():
            if args.only and name not in args.only:
                continue
            group, field = name.split(".")
            for value in values:
                if getattr(best[group], field) == value:
                    continue
                trial = dict(best)
                trial[group] = replace(best[group], **{field: value})
                started = time.perf_counter()
                got, m = score(trial)
                trail.append({"param": name, "value": value, "score": round(got, 5), **{k: round(v, 5) for k, v in m.items()}})
                print(f"{name}={value}: {got:.4f} (R@10 {m['recall@10']:.4f} N@10 {m['ndcg@10']:.4f}) "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
                if got > current + 1e-4:
                    current, metrics, best = got, m, trial
                    print(f"  -> best {name}={value}", flush=True)
    result = {
        "sample": len(rows),
        "score": round(current, 5),
        "metrics": {k: round(v, 5) for k, v in metrics.items()},
        "best": {k: asdict(v) for k, v in best.items()},
        "trail": trail,
    }
    print(json.dumps(result["best"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
