"""``shopguide eval --dataset NAME|PATH``: nDCG@10, recall@10/50 and MRR of each retrieval, both views."""

from __future__ import annotations

import argparse
import sys

from service.evaluation.command import add_eval_arguments, main_eval
from service.evaluation.pipeline import PIPELINE, PipelineStats
from service.evaluation.retrievers import retrieval_factories
from service.settings import load_settings

NAMES = ("bm25-baseline", "bm25", "dense", "hybrid", "hybrid-rrf", PIPELINE)
DEFAULT = ("bm25-baseline", "bm25", "hybrid")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="measure retrieval on judged queries (crowdflower, homedepot, or your own JSONL)",
        description="Offline retrieval evaluation. Indexes and embeddings persist under SHOPGUIDE_INDEX_DIR; "
        f"the first hybrid run on a dataset embeds its catalog (minutes). Default retrievals: {', '.join(DEFAULT)}. "
        "'pipeline' adds the configured provider chain's picks on top of SHOPGUIDE_RETRIEVAL (one call per query).",
    )
    add_eval_arguments(parser, NAMES)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.datasets_dir is None:
        args.datasets_dir = settings.datasets_dir
    stats = PipelineStats()
    status = main_eval(args, retrieval_factories(settings, stats), DEFAULT)
    if stats.answered:
        print(stats.summary(), file=sys.stderr)
    return status
