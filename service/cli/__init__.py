"""The ``shopguide`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from service.cli import catalog, config, copy, evaluate, keys, local, recommend, serve, worker
from service.errors import CatalogError, ClientError, ConfigError

COMMANDS = (serve, recommend, catalog, copy, worker, local, config, keys, evaluate)


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
