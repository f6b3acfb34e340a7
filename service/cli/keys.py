"""``shopguide keys new NAME --scopes recommend,copy``: a fresh API key and its SHOPGUIDE_API_KEYS entry."""

from __future__ import annotations

import argparse
import sys

from service.ops.auth import new_key, new_publishable_key
from service.settings import SCOPES


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="API keys")
    inner = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = inner.add_parser("new", help="make a key; prints the key (once) and the entry to configure")
    new.add_argument("name", help="who the key is for (letters, digits, _ . -)")
    new.add_argument("--scopes", default="recommend", help=f"comma-separated, of {', '.join(SCOPES)} (default recommend)")
    new.add_argument(
        "--publishable",
        action="store_true",
        help="a publishable key for storefront pages: recommend only, from --origins only, limited per client IP",
    )
    new.add_argument("--origins", help="with --publishable: the pages' origins, comma-separated (https://shop.example)")
    new.set_defaults(run=run_new)


def run_publishable(args: argparse.Namespace) -> int:
    from service.settings import parse_publishable_keys

    origins = [o.strip() for o in (args.origins or "").split(",") if o.strip()]
    key, entry = new_publishable_key(args.name, origins)
    try:
        parse_publishable_keys(entry.entry())  # the same checks the service applies at start-up
    except ValueError as exc:
        print(f"shopguide: --origins: {exc}" if not origins else f"shopguide: {exc}", file=sys.stderr)
        return 2
    print(f"key:   {key}")
    print(f"entry: {entry.entry()}")
    print("Append the entry to SHOPGUIDE_PUBLISHABLE_KEYS (comma-separated) and restart. The key may be put in")
    print("your storefront's pages: it can only call /v1/recommend, only from these origins, limited per shopper IP.")
    return 0


def run_new(args: argparse.Namespace) -> int:
    """Exit 0, or 2 for an unknown scope, a bad name or (publishable) bad origins."""
    from service.settings import parse_api_keys

    if args.publishable:
        return run_publishable(args)
    if args.origins:
        print("shopguide: --origins needs --publishable", file=sys.stderr)
        return 2
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    try:
        key, entry = new_key(args.name, scopes)
        parse_api_keys(entry.entry())  # the same checks the service applies at start-up
    except ValueError as exc:
        print(f"shopguide: {exc}", file=sys.stderr)
        return 2
    print(f"key:   {key}")
    print(f"entry: {entry.entry()}")
    print("Append the entry to SHOPGUIDE_API_KEYS (comma-separated) and restart; give the key to its client.")
    print("The key is not stored anywhere: only its SHA-256 is in the entry.")
    return 0
