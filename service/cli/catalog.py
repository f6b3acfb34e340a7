"""``shopguide catalog validate PATH`` (check a catalog file, print a summary), ``import`` (convert a Shopify or
mapped CSV into a shopguide catalog) and ``index``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from service.catalog.columns import parse_column_map
from service.catalog.load import load_catalog, write_catalog
from service.errors import CatalogError, InvalidRequest
from service.settings import load_settings

MAP_HELP = "columns to read as product fields: 'Product Name=title,SKU=id' (default SHOPGUIDE_CATALOG_COLUMNS)"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("catalog", help="catalog tools")
    inner = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    validate = inner.add_parser("validate", help="check a JSONL or CSV catalog and print a summary")
    validate.add_argument("path", help="catalog file (.jsonl or .csv)")
    validate.add_argument("--strict", action="store_true", help="fail on any bad row")
    validate.add_argument("--json", action="store_true", help="print the summary as JSON")
    validate.add_argument("--map", help=MAP_HELP)
    validate.set_defaults(run=run_validate)
    convert = inner.add_parser(
        "import",
        help="convert a Shopify export (or any CSV, with --map) into a shopguide catalog file",
        description="Reads PATH as `catalog validate` does (Shopify exports are recognised by their Handle and "
        "Title columns) and writes the products it loaded to --out (.jsonl or .csv), ready for SHOPGUIDE_CATALOG.",
    )
    convert.add_argument("path", help="catalog file (.jsonl or .csv)")
    convert.add_argument("--out", required=True, help="the shopguide catalog to write (.jsonl or .csv)")
    convert.add_argument("--map", help=MAP_HELP)
    convert.add_argument("--strict", action="store_true", help="fail on any bad row")
    convert.set_defaults(run=run_import)
    index = inner.add_parser(
        "index",
        help="build and persist the retrieval indexes now (BM25; with hybrid, the embeddings too)",
        description="Builds what `shopguide serve` would build at start-up, so a rollout does not wait for it. "
        "Reads SHOPGUIDE_CATALOG, SHOPGUIDE_INDEX_DIR and SHOPGUIDE_RETRIEVAL unless given here.",
    )
    index.add_argument("path", nargs="?", help="catalog file (default: SHOPGUIDE_CATALOG, else the demo catalog)")
    index.add_argument("--retrieval", choices=("bm25", "hybrid"), help="default: SHOPGUIDE_RETRIEVAL")
    index.set_defaults(run=run_index)


def _columns(spec: str | None) -> dict[str, str]:
    if not spec:
        return load_settings().catalog_columns
    try:
        return parse_column_map(spec)
    except ValueError as exc:
        raise InvalidRequest(f"--map: {exc}") from None


def run_validate(args: argparse.Namespace) -> int:
    """Exit 0 when every row loaded, 1 when some rows were rejected, 2 when the file is unusable."""
    try:
        catalog = load_catalog(args.path, strict=args.strict, columns=_columns(args.map))
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


def run_import(args: argparse.Namespace) -> int:
    """Exit 0 when every row was converted, 1 when some were rejected (the rest are written), 2 when unusable."""
    try:
        catalog = load_catalog(args.path, strict=args.strict, columns=_columns(args.map))
    except CatalogError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.suffix.lower() not in (".jsonl", ".csv"):
        raise InvalidRequest("--out: give a .jsonl or .csv file")
    write_catalog(catalog.products, out)
    print(catalog.report.summary(), file=sys.stderr)
    print(f"wrote {len(catalog)} products to {out}", file=sys.stderr)
    return 1 if catalog.report.errors else 0


def run_index(args: argparse.Namespace) -> int:
    """Exit 0 when the indexes are in ``SHOPGUIDE_INDEX_DIR``; 2 on a catalog or configuration error."""
    from service.retrieve.factory import build_retriever

    overrides = {k: v for k, v in {"catalog": args.path, "retrieval": args.retrieval}.items() if v is not None}
    settings = load_settings(**overrides)
    catalog = load_catalog(settings.catalog, strict=settings.catalog_strict, columns=settings.catalog_columns)
    started = time.perf_counter()
    build_retriever(catalog, settings)
    print(
        f"{settings.retrieval} index for catalog {catalog.version} ({len(catalog)} products) ready in "
        f"{settings.index_dir} after {time.perf_counter() - started:.1f} s"
    )
    return 0
