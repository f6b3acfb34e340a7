"""The service benchmark's upstream: an OpenAI-compatible chat-completions endpoint on aiohttp.

    python -m bench.async_upstream --port 0 --latency 0.2 --reply-fn tests.support.picks:pick_first_k

Answers every ``POST /v1/chat/completions`` after a fixed ``--latency`` with the same
``chat.completion`` objects as the scripted test upstream (``tests.support.openai_upstream``,
whose ``completion_payload`` builds them), content from ``--reply-fn``. One event loop
instead of a thread per connection: on a 2-core machine that the service, the load
generator and the upstream share, the threaded test server spent about 0.9 ms of CPU per
answer (a quarter of a core at 300 req/s) that a benchmark of the *service* should not
have to give away. It scripts nothing: failures are the test upstream's job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket

from aiohttp import web

from tests.support.openai_upstream import LOOPBACK, completion_payload, error_body, load_callable


def make_app(latency: float, reply_fn) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response(error_body(400, "body is not JSON"), status=400)
        # The answer is built on arrival, then held: a wave of requests that arrived together
        # leaves together instead of queueing behind each other's JSON work after the delay.
        answer = web.json_response(completion_payload(body, reply_fn(body)),
                                   dumps=lambda obj: json.dumps(obj, ensure_ascii=False))
        if latency > 0:
            await asyncio.sleep(latency)
        return answer

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)
    return app


async def serve(host: str, port: int, latency: float, reply_fn) -> None:
    runner = web.AppRunner(make_app(latency, reply_fn), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(f"listening http://{host}:{sock.getsockname()[1]}/v1", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.async_upstream", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--port", type=int, default=8099, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    p.add_argument("--reply-fn", default="tests.support.picks:pick_first_k", help="MODULE:CALLABLE computing content")
    args = p.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.latency, load_callable(args.reply_fn)))


if __name__ == "__main__":
    main()
