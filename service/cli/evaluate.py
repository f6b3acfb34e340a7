"""``shopguide eval --dataset NAME|PATH``: nDCG@10, recall@10/50 and MRR of each retrieval, both views.

``shopguide eval next-item --dataset amazon-beauty`` (or ``--interactions FILE --catalog FILE``):
Recall@5/10 and NDCG@5/10 of the personalization methods under the leave-one-out protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.catalog.load import load_catalog
from service.errors import ConfigError, ShopguideError
from service.evaluation.command import _positive_int, add_eval_arguments, main_eval
from service.evaluation.datasets import resolve_datasets_dir
from service.evaluation.next_item import (
    AMAZON_BEAUTY,
    DEFAULT_METHODS,
    METHODS,
    SPLITS,
    from_sequences,
    load_beauty,
    run_next_item,
)
from service.evaluation.pipeline import PIPELINE, NextItemPipeline, PipelineStats
from service.evaluation.retrievers import retrieval_factories
from service.personalize.logfile import LogFile
from service.settings import load_settings

NAMES = ("bm25-baseline", "bm25", "dense", "hybrid", "hybrid-rrf", PIPELINE)
DEFAULT = ("bm25-baseline", "bm25", "hybrid")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="measure retrieval on judged queries (crowdflower, homedepot, or your own JSONL); "
        "'eval next-item': personalization",
        description="Offline retrieval evaluation. Indexes and embeddings persist under SHOPGUIDE_INDEX_DIR; "
        f"the first hybrid run on a dataset embeds its catalog (minutes). Default retrievals: {', '.join(DEFAULT)}. "
        "'pipeline' adds the configured provider chain's picks on top of SHOPGUIDE_RETRIEVAL (one call per query). "
        "'shopguide eval next-item' measures personalization instead.",
    )
    add_eval_arguments(parser, NAMES, dataset_required=False)
    parser.set_defaults(run=run, parser=parser)
    kinds = parser.add_subparsers(dest="eval_kind", metavar="next-item")
    next_item = kinds.add_parser(
        "next-item",
        help="next-item recommendation: leave-one-out, full ranking, R@5/10 and N@5/10",
        description="Leave-one-out next-item evaluation (the protocol of published sequential-recommendation "
        "results): every shopper's last item is the test target, the second-last the validation target; the "
        "model learns from seq[:-2] only; all products are ranked with the shopper's history removed; ties are "
        f"averaged. Methods: {', '.join(METHODS)} (pipeline: the provider chain re-ranks the blend's top "
        "candidates, one call per shopper, on a --limit sample).",
    )
    source = next_item.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=[AMAZON_BEAUTY], help="a public dataset, read from the datasets dir")
    source.add_argument("--interactions", type=Path, help="a shop's interaction log (JSONL or CSV); needs --catalog")
    next_item.add_argument("--catalog", type=Path, help="catalog file (JSONL or CSV) for --interactions")
    next_item.add_argument(
        "--datasets-dir",
        type=Path,
        help="where the public datasets lie (default: $SHOPGUIDE_DATASETS_DIR, else ../shared/datasets)",
    )
    next_item.add_argument(
        "--method", action="append", choices=METHODS, help=f"repeat for several (default: {', '.join(DEFAULT_METHODS)})"
    )
    next_item.add_argument("--split", choices=(*SPLITS, "both"), default="both", help="targets to report")
    next_item.add_argument(
        "--limit", type=_positive_int, metavar="N", help="a deterministic sample of N shoppers (pipeline: default 20)"
    )
    next_item.add_argument("--json", action="store_true", help="print JSON for machines instead of the table")
    next_item.add_argument("--output", type=Path, help="also write the JSON report to this file")
    next_item.set_defaults(run=run_next_item_command)


def run(args: argparse.Namespace) -> int:
    if args.dataset is None:
        args.parser.error("the following arguments are required: --dataset (or: eval next-item ...)")
    settings = load_settings()
    if args.datasets_dir is None:
        args.datasets_dir = settings.datasets_dir
    stats = PipelineStats()
    status = main_eval(args, retrieval_factories(settings, stats), DEFAULT)
    if stats.answered:
        print(stats.summary(), file=sys.stderr)
    return status


def run_next_item_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        if args.dataset == AMAZON_BEAUTY:
            data = load_beauty(resolve_datasets_dir(args.datasets_dir or settings.datasets_dir))
        else:
            if args.catalog is None:
                raise ConfigError("eval next-item: --interactions needs --catalog")
            catalog = load_catalog(args.catalog)
            log = LogFile(args.interactions)
            data = from_sequences(args.interactions.stem, catalog, log.sequences())
            for error in log.errors:
                print(f"  {args.interactions}: {error}", file=sys.stderr)
        methods = list(dict.fromkeys(args.method or DEFAULT_METHODS))
        stats = PipelineStats()
        pipeline = NextItemPipeline(data.catalog, settings, stats) if PIPELINE in methods else None
        report = run_next_item(
            data,
            methods,
            SPLITS if args.split == "both" else (args.split,),
            limit=args.limit,
            pipeline=pipeline,
        )
    except ShopguideError as exc:
        print(f"shopguide eval next-item: {exc}", file=sys.stderr)
        return 2
    result = report.to_dict()
    if stats.answered:
        result["pipeline"] = {"answered": stats.answered, "degraded": stats.degraded, "providers": stats.providers}
    payload = json.dumps(result, ensure_ascii=False, indent=2)
    if args.output is not None:
        args.output.write_text(payload + "\n", encoding="utf-8")
    print(payload if args.json else report.to_table())
    if stats.answered:
        print(stats.summary(), file=sys.stderr)
    return 0
