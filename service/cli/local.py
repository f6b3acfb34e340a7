"""``shopguide local prepare`` (convert and load the model once) and ``shopguide local serve`` (the model server)."""

from __future__ import annotations

import argparse
import json
import time

from service.settings import export_openmp_wait_policy, load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("local", help="the local fallback model")
    inner = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    prepare = inner.add_parser(
        "prepare",
        help="convert the model (a GGUF is dequantized once into a cached directory) and load it, so serving starts fast",
    )
    prepare.set_defaults(run=run_prepare)
    serve = inner.add_parser(
        "serve",
        help="run the OpenAI-compatible model server (/v1/chat/completions, /v1/models, /healthz, /metrics)",
    )
    serve.add_argument("--host", help="bind address (default SHOPGUIDE_LOCAL_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default SHOPGUIDE_LOCAL_PORT or 8002)")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in {"local_host": args.host, "local_port": args.port}.items() if v}
    settings = load_settings(**overrides)
    export_openmp_wait_policy(settings)  # before torch is imported
    from service.local_server.server import run_server

    run_server(settings)
    return 0


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
