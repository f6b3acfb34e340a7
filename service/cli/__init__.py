"""The ``shopguide`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from service.cli import catalog, config, copy, db, evaluate, events, keys, local, personalize, recommend, serve, worker
from service.errors import CatalogError, ClientError, ConfigError
from service.ops.logs import QuietLibraries, progress_bars_on_terminal_only

COMMANDS = (serve, recommend, catalog, copy, worker, local, config, keys, evaluate, personalize, events, db)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopguide", description="LLM shopping guide for e-commerce.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # bm25s and jieba log at DEBUG whatever the root's level
        handler.addFilter(QuietLibraries(logging.WARNING))
    progress_bars_on_terminal_only()  # transformers' "Loading weights" bars, not into a piped stderr
    try:
        return int(args.run(args) or 0)
    except (ConfigError, CatalogError) as exc:
        print(f"shopguide: {exc}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"shopguide: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
