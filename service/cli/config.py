"""``shopguide config``: the effective configuration (secrets masked), or the variable table and .env.example."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.ops.config_view import config_markdown, effective_config, env_example, env_lines, write_generated_docs
from service.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="as a JSON object")
    output.add_argument("--markdown", action="store_true", help="the table of every variable (README.md)")
    output.add_argument("--env-example", action="store_true", help="every variable at its default (.env.example)")
    output.add_argument(
        "--write-docs",
        metavar="REPO",
        help="rewrite REPO/README.md's variable table and REPO/.env.example from the settings model",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0, or 2 (with the variable named) when the environment holds an invalid value."""
    if args.markdown:
        print(config_markdown(), end="")
        return 0
    if args.env_example:
        print(env_example(), end="")
        return 0
    if args.write_docs:
        for path in write_generated_docs(Path(args.write_docs)):
            print(f"wrote {path}")
        return 0
    settings = load_settings()
    if args.json:
        print(json.dumps(effective_config(settings), ensure_ascii=False, indent=2))
    else:
        print("\n".join(env_lines(settings)))
    return 0
