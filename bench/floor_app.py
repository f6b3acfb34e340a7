"""The floor under ``bench.service``: the least any gunicorn + Flask + openai-SDK service adds.

A WSGI app that answers ``POST /v1/recommend`` by reading the JSON body and relaying one
chat completion from the upstream (``OPENAI_BASE_URL``) through the openai SDK, with a
fixed two-message prompt: no validation, retrieval, prompt templates, cache, output
checks or logging. Served by ``bench.service`` under the same gunicorn settings as
shopguide, its latency above the upstream's delay is what the stack itself costs on the
machine, the yardstick for shopguide's own overhead::

    gunicorn -k gthread -w 4 --threads 64 'bench.floor_app:create_app()'
"""

from __future__ import annotations

import os

import httpx2
import openai
import orjson
from flask import Flask, Response, request


def create_app() -> Flask:
    client = openai.OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-bench", max_retries=0)
    app = Flask("floor")

    @app.post("/v1/recommend")
    def relay() -> Response:
        query = request.get_json()["query"]
        body = orjson.dumps({"model": "bench", "messages": [
            {"role": "system", "content": "Pick products."}, {"role": "user", "content": query}]})
        answer = client.post("/chat/completions", content=body, cast_to=httpx2.Response)
        return Response(answer.read(), mimetype="application/json")

    return app
