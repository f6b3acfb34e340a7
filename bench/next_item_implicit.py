"""``implicit`` (item-kNN, ALS) against shopguide's own scipy co-occurrence, on Beauty's validation targets.

    .venv/bin/pip install implicit   # not a dependency: this benchmark is why
    .venv/bin/python -m bench.next_item_implicit [--out bench/results/next_item_implicit.json]

Same protocol as ``shopguide eval next-item`` (train on seq[:-2], full ranking, history removed,
ties averaged), validation targets only (tuning data; test targets stay unread). Each library
model replaces shopguide's item-to-item matrix: alone, and inside the served blend with the same
content similarity and popularity. ALS is scored from its user factors, which for the validation
input (seq[:-2]) are exactly the training rows. Build times are wall-clock on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns (and slows) with a threaded BLAS

import numpy as np
import scipy.sparse as sp

from service.evaluation.datasets import resolve_datasets_dir
from service.evaluation.next_item import build_eval_model, evaluate_scorer, load_beauty
from service.personalize.blend import Blend
from service.personalize.cooccur import ItemToItem
from service.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import implicit
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    data = load_beauty(resolve_datasets_dir(load_settings().datasets_dir))
    model = build_eval_model(data)
    served = model.blend
    train = data.training()
    histories, targets = data.split("validation")
    n = len(data.catalog)
    rows = []

    def measure(name: str, item2item: ItemToItem | None, build_s: float, scorer=None) -> None:  # type: ignore[no-untyped-def]
        if scorer is None:
            blend = Blend(data.catalog, item2item, served.content, served.popularity, served.params)
            alone = replace(served.params, content=0.0, popular=0.0)
            for label, fn in (
                (f"{name} alone", lambda hs: blend.combine(blend.parts(hs), alone)),
                (f"{name} in the blend", blend.score_histories),
            ):
                started = time.perf_counter()
                m = evaluate_scorer(fn, histories, targets, n)
                rows.append({"model": label, "build_s": round(build_s, 2), "eval_s": round(time.perf_counter() - started, 1),
                             **{k: round(v, 4) for k, v in m.items()}})
                print(rows[-1], flush=True)
        else:
            m = evaluate_scorer(scorer, histories, targets, n)
            rows.append({"model": name, "build_s": round(build_s, 2), **{k: round(v, 4) for k, v in m.items()}})
            print(rows[-1], flush=True)

    measure("shopguide co-occurrence (scipy)", served.item2item, model.seconds["item2item_and_popularity"])

    seq = train.sequence_of_step()
    user_items = sp.csr_matrix((np.ones(train.steps, dtype=np.float32), (seq, train.item)), shape=(train.shoppers, n))
    for cls, kwargs in ((CosineRecommender, {"K": 400}), (BM25Recommender, {"K": 400})):
        knn = cls(**kwargs)
        started = time.perf_counter()
        knn.fit(user_items, show_progress=False)
        build_s = time.perf_counter() - started
        measure(f"implicit {cls.__name__}", ItemToItem(knn.similarity.tocsr(), np.asarray(user_items.sum(0)).ravel()), build_s)

    als = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05, random_state=12)
    started = time.perf_counter()
    als.fit(user_items, show_progress=False)
    build_s = time.perf_counter() - started
    users = {id(h): s for s, h in zip(data.evaluated(), histories)}
    item_factors = als.item_factors.to_numpy() if hasattr(als.item_factors, "to_numpy") else als.item_factors
    user_factors = als.user_factors.to_numpy() if hasattr(als.user_factors, "to_numpy") else als.user_factors
    measure("implicit ALS (64 factors)", None, build_s,
            scorer=lambda hs: user_factors[[users[id(h)] for h in hs]] @ item_factors.T)

    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, shared by 8 sessions", "split": "validation",
              "implicit": implicit.__version__, "shoppers": len(histories), "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
