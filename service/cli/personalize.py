"""``shopguide personalize build``: learn the recommender from a log ahead of serving, and say what it learned."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import redis

from service.catalog.load import load_catalog
from service.errors import ConfigError
from service.personalize.contract import ShopperSequence
from service.personalize.factory import build_blend
from service.personalize.logfile import LogFile
from service.settings import Settings, load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "personalize",
        help="build the personalization model (item-to-item, content, popularity) from an interaction log",
        description="Personalization model. The build is persisted under SHOPGUIDE_INDEX_DIR keyed by the "
        "catalog and the log's content hash, so servers started on the same data load it instead of building.",
    )
    commands = parser.add_subparsers(dest="personalize_command", required=True, metavar="COMMAND")
    build = commands.add_parser(
        "build",
        help="build from an interaction log (JSONL or CSV: user_id, product_id, timestamp, type, value)",
        description="Build the model from --log, else SHOPGUIDE_PERSONALIZE_LOG, else (or with --from-events) the "
        "event store at REDIS_URL: workers started on the same data then load it instead of building.",
    )
    source = build.add_mutually_exclusive_group()
    source.add_argument("--log", type=Path, help="interaction log file (default: SHOPGUIDE_PERSONALIZE_LOG)")
    source.add_argument("--from-events", action="store_true", help="the event store's log at REDIS_URL")
    build.add_argument("--catalog", type=Path, help="catalog file (default: SHOPGUIDE_CATALOG, else the demo)")
    build.add_argument("--json", action="store_true", help="print JSON for machines")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.catalog is not None:
        overrides["catalog"] = str(args.catalog)
    settings = load_settings(**overrides)
    path = None if args.from_events else (args.log or settings.personalize_log)
    if path is None and not settings.redis_url:
        raise ConfigError(
            "personalize build: give --log FILE or set SHOPGUIDE_PERSONALIZE_LOG (or REDIS_URL for the event store)"
        )
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"personalize build: no such interaction log: {path}")
    catalog = load_catalog(settings.catalog, strict=settings.catalog_strict)
    started = time.perf_counter()
    if path is not None:
        source = LogFile(Path(path))
        sequences = source.sequences()
        rows, errors = source.rows, source.errors
    else:
        sequences = _event_store_sequences(settings)
        rows, errors = sum(len(s.interactions) for s in sequences), []
        path = "event store (REDIS_URL)"
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    model = build_blend(settings, catalog, sequences)
    build_s = time.perf_counter() - started
    learned = np.diff(model.item2item.similarity.indptr) > 0
    summary = {
        "model": model.version,
        "index_dir": str(settings.index_dir),
        "log": str(path),
        "rows": rows,
        "bad_rows": len(errors),
        "shoppers": len(sequences),
        "products": len(catalog),
        "products_with_neighbours": int(learned.sum()),
        "cold_products": int((~learned).sum()),
        "pairs": int(model.item2item.similarity.nnz),
        "read_s": round(read_s, 2),
        "build_s": round(build_s, 2),
    }
    if args.json:
        print(json.dumps({**summary, "errors": errors}, ensure_ascii=False, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:<26} {value}")
        for error in errors:
            print(f"  {error}", file=sys.stderr)
    return 0


def _event_store_sequences(settings: Settings) -> list[ShopperSequence]:
    """Every shopper's sequence from the Redis event store (the stream the service appends to)."""
    from service.cache.store import redis_client
    from service.events.factory import build_event_store

    client = redis_client(settings.redis_url, socket_timeout_s=10.0)  # type: ignore[arg-type]
    try:
        return list(build_event_store(settings, client).sequences())
    except redis.RedisError as exc:
        raise ConfigError(f"personalize build: cannot read the event store at REDIS_URL: {exc}") from exc
    finally:
        client.close()
