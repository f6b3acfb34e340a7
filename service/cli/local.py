"""``shopguide local prepare``: locate, convert and load the local model once, ahead of serving."""

from __future__ import annotations

import argparse
import json
import time

from service.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("local", help="the local fallback model")
    inner = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    prepare = inner.add_parser(
        "prepare",
        help="convert the model (a GGUF is dequantized once into a cached directory) and load it, so serving starts fast",
    )
    prepare.set_defaults(run=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from service.provider.local import LocalProvider  # torch and transformers only for this command

    provider = LocalProvider.from_settings(load_settings())
    started = time.monotonic()
    provider.warm_up()
    info = provider.describe()
    provider.close()
    print(
        json.dumps(
            {k: info[k] for k in ("model", "model_dir", "device", "dtype", "load_s")}
            | {"seconds": round(time.monotonic() - started, 1)},
            indent=2,
        )
    )
    return 0
