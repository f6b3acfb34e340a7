"""``shopguide db``: the database of approved copy (``upgrade`` runs the migrations, ``status`` says where it is)."""

from __future__ import annotations

import argparse

from service.db.engine import build_engine
from service.db.migrate import current, head, upgrade
from service.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="database of approved copy: upgrade (migrate) or status")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="run the migrations up to the newest (or --revision)")
    up.add_argument("--revision", default="head", help="target revision (default head)")
    up.set_defaults(run=run_upgrade)
    status = actions.add_parser("status", help="the database URL (password masked) and its revision")
    status.set_defaults(run=run_status)


def run_upgrade(args: argparse.Namespace) -> int:
    engine = build_engine(load_settings())
    before = current(engine)
    after = upgrade(engine, args.revision)
    url = engine.url.render_as_string(hide_password=True)
    print(f"{url}: {before or 'empty'} -> {after}" if before != after else f"{url}: already at {after}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    engine = build_engine(load_settings())
    at, newest = current(engine), head()
    print(f"{engine.url.render_as_string(hide_password=True)}: at {at or 'empty'}, newest {newest}"
          + ("" if at == newest else " (run `shopguide db upgrade`)"))
    return 0 if at == newest else 1
