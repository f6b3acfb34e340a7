"""How long building the personalization model from Amazon Beauty's 198,502 interactions takes (issue 12 §6: <= 30 s).

    .venv/bin/python -m bench.personalize_build [--out bench/results/personalize_build.json]

The whole log (every shopper's every item, as purchases one day apart, so the recency code runs) is
written as a JSONL interaction log, then timed stage by stage as ``shopguide personalize build``
runs it: read the log (parse, hash user ids), encode, co-occurrence + popularity, save; loading the
persisted model back (what every later worker start does); the catalog-side parts (BM25 index and
content similarity), which depend on the catalog only and are built once per catalog version.
Repeats each stage ``--repeat`` times and reports the median (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from service.evaluation.datasets import resolve_datasets_dir
from service.evaluation.next_item import load_beauty
from service.personalize.content import ContentSimilarity
from service.personalize.cooccur import ItemToItem
from service.personalize.corpus import EventWeights, encode
from service.personalize.logfile import LogFile
from service.personalize.persist import load_or_build_model
from service.personalize.popular import Popularity
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer
from service.settings import load_settings

DAY_MS = 86_400_000


def timed(fn, repeat: int):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = load_beauty(resolve_datasets_dir(load_settings().datasets_dir))
    catalog = data.catalog
    ids = [p.id for p in catalog.products]
    steps = data.steps
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "beauty.jsonl"
        with log_path.open("w", encoding="utf-8") as handle:
            for s in range(steps.shoppers):
                for i, p in enumerate(steps.item[steps.ptr[s] : steps.ptr[s + 1]].tolist()):
                    row = {"user_id": f"U{s}", "product_id": ids[p], "timestamp": 1_400_000_000_000 + i * DAY_MS}
                    handle.write(json.dumps(row) + "\n")
        sequences, seconds["read_log"] = timed(lambda: LogFile(log_path).sequences(), args.repeat)
        interactions = sum(len(s.interactions) for s in sequences)
        position_of = {pid: i for i, pid in enumerate(ids)}
        corpus, seconds["encode"] = timed(lambda: encode(sequences, position_of, len(ids), EventWeights()), args.repeat)
        _, seconds["item2item"] = timed(lambda: ItemToItem.build(corpus), args.repeat)
        _, seconds["popularity"] = timed(lambda: Popularity.build(corpus), args.repeat)
        index_dir = Path(tmp) / "index"
        started = time.perf_counter()
        load_or_build_model(index_dir, catalog, corpus)
        seconds["build_and_save"] = time.perf_counter() - started
        _, seconds["load_persisted"] = timed(lambda: load_or_build_model(index_dir, catalog, corpus), args.repeat)
    lexical, seconds["bm25_index"] = timed(lambda: LexicalIndex.build(catalog, Analyzer()), 1)
    _, seconds["content_similarity"] = timed(lambda: ContentSimilarity.build(lexical), 1)
    seconds["learned_total"] = seconds["read_log"] + seconds["encode"] + seconds["build_and_save"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared by 8 sessions (medians of {args.repeat})",
        "interactions": interactions,
        "shoppers": len(sequences),
        "products": len(ids),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "target_s": 30,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
