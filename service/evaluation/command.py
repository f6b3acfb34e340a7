"""``shopguide eval``: arguments, the run, and its table or JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from service.errors import ConfigError, ShopguideError
from service.evaluation.baselines import baseline_factories
from service.evaluation.datasets import load_dataset
from service.evaluation.runner import SPLITS, VIEWS, RetrieverFactory, Split, View, evaluate


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def add_eval_arguments(
    parser: argparse.ArgumentParser, retrieval_names: Sequence[str] | None = None, *, dataset_required: bool = True
) -> None:
    """Add ``shopguide eval``'s options to ``parser`` (``retrieval_names``: the choices of ``--retrieval``).

    ``dataset_required=False`` when the parser also has subcommands (``eval next-item``) that take their own.
    """
    parser.add_argument(
        "--dataset",
        required=dataset_required,
        metavar="NAME|PATH",
        help="crowdflower, homedepot, or a JSONL file of {query, relevant: {id: grade}} lines (needs --catalog)",
    )
    parser.add_argument("--catalog", type=Path, help="catalog file (JSONL or CSV) for a JSONL dataset")
    parser.add_argument(
        "--datasets-dir",
        type=Path,
        help="where the public datasets lie (default: $SHOPGUIDE_DATASETS_DIR, else ../shared/datasets)",
    )
    parser.add_argument(
        "--retrieval",
        action="append",
        choices=list(retrieval_names) if retrieval_names else None,
        help="retrieval to evaluate; repeat for several (default: all known)",
    )
    parser.add_argument(
        "--view", action="append", choices=VIEWS, help="full catalog and/or judged pool (default: both)"
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="all", help="hash split of the queries: tune on 'tune', report on 'test'"
    )
    parser.add_argument(
        "--limit", type=_positive_int, metavar="N", help="a deterministic sample of N queries (quick runs)"
    )
    parser.add_argument(
        "--ordered-ties",
        action="store_true",
        help="trust the returned order instead of averaging metrics over equal scores",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines instead of the table")


def run_eval(
    dataset_name_or_path: str | Path,
    retrievals: Sequence[str],
    as_json: bool = False,
    *,
    factories: Mapping[str, RetrieverFactory] | None = None,
    datasets_dir: str | Path | None = None,
    catalog: str | Path | None = None,
    views: Sequence[View] = VIEWS,
    split: Split = "all",
    limit: int | None = None,
    ordered_ties: bool = False,
) -> str:
    """Evaluate ``retrievals`` (names in ``factories``; default: the baselines) on a dataset; a table or JSON.

    :raises ConfigError: unknown retrieval or dataset name, or no datasets directory.
    :raises CatalogError: a dataset or catalog file that cannot be used.
    """
    factories = factories if factories is not None else baseline_factories()
    unknown = [name for name in retrievals if name not in factories]
    if unknown:
        raise ConfigError(f"--retrieval: unknown {', '.join(unknown)}; known: {', '.join(factories)}")
    dataset = load_dataset(dataset_name_or_path, datasets_dir=datasets_dir, catalog=catalog)
    report = evaluate(
        dataset,
        {name: factories[name] for name in dict.fromkeys(retrievals)},
        views,
        split=split,
        limit=limit,
        ties="ordered" if ordered_ties else "average",
    )
    if as_json:
        return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
    return report.to_table()


def main_eval(
    args: argparse.Namespace,
    factories: Mapping[str, RetrieverFactory] | None = None,
    default: Sequence[str] | None = None,
) -> int:
    """Run ``shopguide eval`` from parsed arguments; print the result. Exit status 0, or 2 on a usage/data error.

    ``factories``: retrieval name -> factory(catalog); default: the baselines. No ``--retrieval`` =
    ``default``, else all of them.
    """
    factories = factories if factories is not None else baseline_factories()
    try:
        output = run_eval(
            args.dataset,
            args.retrieval or list(default or factories),
            args.json,
            factories=factories,
            datasets_dir=args.datasets_dir,
            catalog=args.catalog,
            views=tuple(dict.fromkeys(args.view)) if args.view else VIEWS,
            split=args.split,
            limit=args.limit,
            ordered_ties=args.ordered_ties,
        )
    except ShopguideError as exc:
        print(f"shopguide eval: {exc}", file=sys.stderr)
        return 2
    print(output)
    return 0
