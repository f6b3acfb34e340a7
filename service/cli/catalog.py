"""``shopguide catalog validate PATH``: check a catalog file and print a summary."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from service.catalog.load import load_catalog
from service.errors import CatalogError
from service.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("catalog", help="catalog tools")
    inner = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    validate = inner.add_parser("validate", help="check a JSONL or CSV catalog and print a summary")
    validate.add_argument("path", help="catalog file (.jsonl or .csv)")
    validate.add_argument("--strict", action="store_true", help="fail on any bad row")
    validate.add_argument("--json", action="store_true", help="print the summary as JSON")
    validate.set_defaults(run=run_validate)
    index = inner.add_parser(
        "index",
        help="build and persist the retrieval indexes now (BM25; with hybrid, the embeddings too)",
        description="Builds what `shopguide serve` would build at start-up, so a rollout does not wait for it. "
        "Reads SHOPGUIDE_CATALOG, SHOPGUIDE_INDEX_DIR and SHOPGUIDE_RETRIEVAL unless given here.",
    )
    index.add_argument("path", nargs="?", help="catalog file (default: SHOPGUIDE_CATALOG, else the demo catalog)")
    index.add_argument("--retrieval", choices=("bm25", "hybrid"), help="default: SHOPGUIDE_RETRIEVAL")
    index.set_defaults(run=run_index)


def run_validate(args: argparse.Namespace) -> int:
    """Exit 0 when every row loaded, 1 when some rows were rejected, 2 when the file is unusable."""
    try:
        catalog = load_catalog(args.path, strict=args.strict)
    except CatalogError as exc:
        print(str(exc))
        return 2
    report = catalog.report
    categories = Counter(p.category.split("/")[0] or "(none)" for p in catalog.products)
    languages = Counter(p.lang or "(unset)" for p in catalog.products)
    if args.json:
        print(
            json.dumps(
                {
                    "source": report.source,
                    "rows": report.rows,
                    "loaded": report.loaded,
                    "rejected": len(report.errors),
                    "errors": [{"line": e.line, "id": e.product_id, "message": e.message} for e in report.errors],
                    "ignored_fields": report.ignored_columns,
                    "version": catalog.version,
                    "in_stock": sum(p.in_stock for p in catalog.products),
                    "categories": dict(categories.most_common()),
                    "languages": dict(languages.most_common()),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(report.summary())
        print(f"version {catalog.version}; in stock {sum(p.in_stock for p in catalog.products)}/{len(catalog)}")
        print("top-level categories: " + ", ".join(f"{c} ({n})" for c, n in categories.most_common()))
        print("languages: " + ", ".join(f"{c} ({n})" for c, n in languages.most_common()))
    return 1 if report.errors else 0


def run_index(args: argparse.Namespace) -> int:
    """Exit 0 when the indexes are in ``SHOPGUIDE_INDEX_DIR``; 2 on a catalog or configuration error."""
    from service.retrieve.factory import build_retriever

    overrides = {k: v for k, v in {"catalog": args.path, "retrieval": args.retrieval}.items() if v is not None}
    settings = load_settings(**overrides)
    catalog = load_catalog(settings.catalog, strict=settings.catalog_strict)
    started = time.perf_counter()
    build_retriever(catalog, settings)
    print(
        f"{settings.retrieval} index for catalog {catalog.version} ({len(catalog)} products) ready in "
        f"{settings.index_dir} after {time.perf_counter() - started:.1f} s"
    )
    return 0
