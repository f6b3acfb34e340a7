"""``shopguide copy``: marketing copy for a whole catalog (or some ids of it) into a resumable file.

The same copy pipeline as ``POST /v1/copy``; this module only reads arguments,
feeds products to a bounded thread pool, writes one JSONL line per product and
shows progress. Re-running skips products already in the output; Ctrl-C (or
SIGTERM) stops taking new products, writes the ones in flight and exits 130 with
a valid file. ``--format csv`` (or ``shopify``: Shopify's import columns) keeps the
JSONL journal next to the CSV (``<out>.journal.jsonl``) and renders the CSV from it at
the end of every run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from service.bulk.factory import bulk_pipeline
from service.bulk.journal import Journal, JournalError, render_csv
from service.bulk.limiter import AdaptiveLimiter
from service.bulk.procs import ProcessRunner
from service.bulk.records import Finished, finished, write_record
from service.bulk.runner import run_bounded
from service.bulk.throttle import BULK_DEADLINE_S, throttled_chain
from service.catalog.columns import parse_column_map
from service.catalog.load import Catalog, load_catalog
from service.catalog.product import Product
from service.copywriting.channels import CHANNELS, LENGTHS
from service.errors import ConfigError, InvalidRequest
from service.ops.metrics import Metrics
from service.settings import Settings, load_settings
from service.validate.base import parse_body
from service.validate.copy import TONE_PRESETS, CopyOptions

# Upstream calls in flight per process: the openai SDK holds the GIL for a few ms per call, so past about
# a dozen concurrent calls one process's threads start to queue for it (measured: bench/copy_bulk.py).
PER_PROCESS = 12


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "copy",
        help="write marketing copy for a catalog into a resumable JSONL (or CSV) file",
        description="Write marketing copy for every product of a catalog (or --ids). Re-running resumes.",
    )
    parser.add_argument("--catalog", help="catalog file (.jsonl or .csv); default SHOPGUIDE_CATALOG or the demo catalog")
    parser.add_argument("--out", required=True, help="output file; products already in it are skipped")
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", "shopify"),
        default="jsonl",
        help="output format (default jsonl); csv: one row per variant; shopify: Shopify's product import columns "
        "(Handle, Title, Body (HTML), SEO Title, SEO Description), one row per product with copy",
    )
    parser.add_argument(
        "--map", help="catalog columns to read as product fields: 'Product Name=title,SKU=id' (default SHOPGUIDE_CATALOG_COLUMNS)"
    )
    parser.add_argument("--ids", help="only these product ids: comma-separated, or @FILE with one id per line")
    parser.add_argument("--channel", choices=CHANNELS, default="pdp")
    parser.add_argument("--tone", default="friendly", help=f"a preset ({', '.join(TONE_PRESETS)}) or free text")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--length", choices=LENGTHS)
    length.add_argument("--max-chars", type=int, help="body length cap in characters")
    parser.add_argument("--language", help="copy language (default: each product's own)")
    parser.add_argument("--audience")
    parser.add_argument("--brand-voice")
    parser.add_argument("--keywords", help="comma-separated words that should appear")
    parser.add_argument("--banned-words", help="comma-separated words that must not appear")
    parser.add_argument("--variants", type=int, default=1, help="variants per product (1-5, default 1)")
    parser.add_argument("--strict", action="store_true", help="drop variants with unsupported claims")
    parser.add_argument("--concurrency", type=int, default=16, help="upstream calls in flight at most (default 16)")
    parser.add_argument(
        "--processes",
        type=int,
        help=f"worker processes (default: one per {PER_PROCESS} of concurrency, at most two per CPU core)",
    )
    parser.add_argument(
        "--deadline", type=float, default=BULK_DEADLINE_S, help="seconds one product may take, waits on 429 included"
    )
    parser.add_argument("--no-retry-failed", action="store_true", help="keep failed records instead of retrying them")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _options(args: argparse.Namespace) -> CopyOptions:
    """The same validation as the API's (errors name the option)."""
    body: dict[str, Any] = {
        "channel": args.channel,
        "tone": args.tone,
        "length": args.length,
        "max_chars": args.max_chars,
        "language": args.language,
        "audience": args.audience,
        "brand_voice": args.brand_voice,
        "keywords": _split(args.keywords),
        "banned_words": _split(args.banned_words),
        "variants": args.variants,
        "strict": args.strict,
    }
    return parse_body(CopyOptions, json.dumps({k: v for k, v in body.items() if v is not None}))


def _wanted_ids(spec: str | None) -> list[str] | None:
    if not spec:
        return None
    if spec.startswith("@"):
        lines = Path(spec[1:]).read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip()]
    return _split(spec)


class _Stopper:
    """First SIGINT/SIGTERM: stop taking products and finish the ones in flight. Second: quit now."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Stopper:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt
        self._stop.set()
        print("\nshopguide copy: stopping; finishing the products in flight (again to quit now)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _records(
    settings: Settings,
    catalog: Catalog,
    options: CopyOptions,
    todo: list[Product],
    concurrency: int,
    processes: int,
    stop: threading.Event,
) -> tuple[Iterator[Finished], Callable[[], float], Callable[[], int]]:
    """The records as they finish, and how to read the current pause and the count of 429s."""
    if processes > 1:
        runner = ProcessRunner(settings, catalog, options, processes=processes, concurrency=concurrency, stop=stop)
        runner.start()
        return runner.records([p.id for p in todo]), runner.board.remaining, runner.board.count
    metrics = Metrics()
    limiter = AdaptiveLimiter(concurrency)
    pipeline = bulk_pipeline(settings, catalog, throttled_chain(settings, metrics, limiter, stop=stop), metrics)

    def one(product: Product) -> Finished:
        return finished(write_record(pipeline, product, options))

    # A few threads more than upstream calls in flight (the limiter's bound) prepare the next products.
    threads = concurrency + max(1, concurrency // 4)
    records = (record for _, record in run_bounded(one, todo, concurrency=threads, stop=stop))
    return records, limiter.paused_for, lambda: limiter.rate_limited_count


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every product has copy, 1 when some failed, 130 when interrupted (rerun to resume)."""
    if args.concurrency < 1:
        raise InvalidRequest("--concurrency must be at least 1")
    options = _options(args)
    settings = load_settings(deadline_s=args.deadline)
    try:
        columns = parse_column_map(args.map) if args.map else settings.catalog_columns
    except ValueError as exc:
        raise InvalidRequest(f"--map: {exc}") from None
    catalog = load_catalog(args.catalog or settings.catalog, strict=settings.catalog_strict, columns=columns)
    wanted = _wanted_ids(args.ids)
    if wanted is None:
        products: list[Product] = list(catalog.products)
    else:
        unknown = [pid for pid in wanted if catalog.get(pid) is None]
        if unknown:
            raise InvalidRequest(f"--ids: not in the catalog: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}")
        products = [catalog.by_id[pid] for pid in dict.fromkeys(wanted)]

    out = Path(args.out)
    journal_path = out if args.format == "jsonl" else out.with_name(out.name + ".journal.jsonl")
    try:
        journal = Journal.open(journal_path, retry_failed=not args.no_retry_failed)
    except JournalError as exc:
        raise ConfigError(f"--out: {exc}") from None
    todo = [p for p in products if p.id not in journal]
    skipped = len(products) - len(todo)

    stop = threading.Event()
    processes = args.processes or min(2 * (os.cpu_count() or 1), -(-args.concurrency // PER_PROCESS))
    processes = max(1, min(processes, args.concurrency, len(todo) or 1))
    records, paused_for, rate_limited = _records(settings, catalog, options, todo, args.concurrency, processes, stop)
    ok = failed = tokens = 0
    started = time.monotonic()
    bar = tqdm(total=len(todo), unit="product", disable=args.quiet, dynamic_ncols=True, file=sys.stderr)
    hard_stop = False
    try:
        with _Stopper(stop):
            for record in records:
                if stop.is_set() and record.status == "failed":
                    continue  # cut short by the stop, not a real failure: redone on the next run
                journal.append(record)
                ok += record.status == "ok"
                failed += record.status == "failed"
                tokens += record.tokens
                bar.update(1)
                postfix: dict[str, Any] = {"failed": failed, "tokens": tokens}
                if rate_limited():
                    postfix["429s"] = rate_limited()
                if paused_for() > 0:
                    postfix["paused"] = f"{paused_for():.1f}s"
                bar.set_postfix(postfix, refresh=False)
    except KeyboardInterrupt:
        hard_stop = True
    finally:
        bar.close()
        journal.close()
        if args.format != "jsonl":
            render_csv(journal_path, out, layout=args.format, title_of=lambda pid: getattr(catalog.get(pid), "title", None))

    elapsed = time.monotonic() - started
    interrupted = stop.is_set() or hard_stop
    remaining = len(todo) - ok - failed
    print(
        f"shopguide copy: {ok} written, {failed} failed, {skipped} already done, {remaining} left "
        f"in {elapsed:.1f}s ({(ok + failed) / elapsed if elapsed > 0 else 0:.1f} products/s, "
        f"{rate_limited()} rate-limited calls, {processes} process(es)) -> {out}",
        file=sys.stderr,
    )
    if interrupted:
        print("shopguide copy: interrupted; run the same command again to resume", file=sys.stderr)
        if hard_stop:
            sys.stderr.flush()
            os._exit(130)  # do not wait for calls still in flight; the file is complete up to here
        return 130
    if failed:
        print(f"shopguide copy: {failed} product(s) failed; run again to retry them", file=sys.stderr)
        return 1
    return 0
