"""``shopguide events import FILE``: load a shop's historical event log (JSONL or CSV) into the event store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.events.store import EventStoreUnavailable

_SHOWN_BAD_ROWS = 50


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("events", help="shopper events")
    inner = parser.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    imp = inner.add_parser(
        "import",
        help="import a historical log (JSONL or CSV: user_id, product_id, timestamp, type[, value, event_id, ...])",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file name (.csv, else JSONL)")
    imp.add_argument("--batch-size", type=int, default=500, help="events stored per round trip (default 500)")
    imp.add_argument("--timestamp-unit", choices=("ms", "s"), default="ms", help="unit of numeric timestamps")
    imp.add_argument("--state", type=Path, help="where progress is saved (default: FILE.import-state.json)")
    imp.add_argument("--restart", action="store_true", help="ignore saved progress and start from the first row")
    imp.set_defaults(run=run_import)


def run_import(args: argparse.Namespace) -> int:
    """Exit 0 when every row was read (bad rows are reported, not fatal), 1 when the store failed, 2 on bad use."""
    from tqdm import tqdm

    from service.cache.store import redis_client
    from service.catalog.load import load_catalog
    from service.events.factory import build_event_store
    from service.events.importer import EventImporter
    from service.events.ingest import EventIngest
    from service.events.keys import UserKeys
    from service.settings import load_settings

    if not args.file.is_file():
        print(f"shopguide: no such file: {args.file}", file=sys.stderr)
        return 2
    if not 1 <= args.batch_size <= 1000:
        print("shopguide: --batch-size must be from 1 to 1000", file=sys.stderr)
        return 2
    settings = load_settings()
    if not settings.redis_url:
        print("shopguide: REDIS_URL is not set: imported events would be lost when this command ends", file=sys.stderr)
        return 2
    catalog = load_catalog(settings.catalog, strict=settings.catalog_strict)
    store = build_event_store(settings, redis_client(settings.redis_url, socket_timeout_s=5.0))
    ingest = EventIngest(store, catalog, UserKeys.from_settings(settings), max_future_ms=settings.events_max_future_s * 1000)
    importer = EventImporter(ingest, batch_size=args.batch_size, timestamp_unit=args.timestamp_unit)
    bar = tqdm(
        total=args.file.stat().st_size, unit="B", unit_scale=True, desc="importing", file=sys.stderr,
        disable=not sys.stderr.isatty(),  # a bar on a terminal only: logs and pipes get the summary
    )

    def progress(done: int) -> None:
        bar.update(done - bar.n)

    try:
        report = importer.run(args.file, fmt=args.format, state_path=args.state, restart=args.restart, progress=progress)
    except EventStoreUnavailable as exc:
        bar.close()
        print(f"shopguide: {exc}; progress is saved: run the same command again to resume", file=sys.stderr)
        return 1
    bar.close()
    state = report.state
    if report.already_done:
        print(f"{args.file} was imported already ({state.accepted} events); --restart imports it again")
        return 0
    for bad in report.bad_rows[:_SHOWN_BAD_ROWS]:
        where = f"{bad.field}: " if bad.field else ""
        print(f"line {bad.index}: {where}{bad.message}", file=sys.stderr)
    if len(report.bad_rows) > _SHOWN_BAD_ROWS:
        print(f"... and {len(report.bad_rows) - _SHOWN_BAD_ROWS} more bad rows", file=sys.stderr)
    if report.resumed_at:
        print(f"resumed after line {report.resumed_at}")
    print(f"{state.accepted} events stored, {state.duplicates} already stored, {state.rejected} bad rows "
          f"(through line {state.line})")
    return 0
