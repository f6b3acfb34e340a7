"""POST /v1/recommend."""

from __future__ import annotations

from flask import Blueprint, Response

from service.api.http import json_response, read_body, request_id, request_trace
from service.api.openapi import Endpoint
from service.pipeline.recommend import RecommendPipeline
from service.respond.recommend import RecommendResponse
from service.stream.sse import stream_response, wants_stream
from service.validate.recommend import RecommendRequest

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/recommend",
        "Explained product recommendations for a shopper's request",
        "recommend",
        RecommendResponse,
        RecommendRequest,
        errors=(400, 401, 403, 413, 415, 429, 503, 504),
        description="Retrieves candidates from the catalog, asks the provider chain to pick and explain "
        "the best k, and falls back to retrieval order (degraded) when no provider answers. With "
        "`Accept: text/event-stream` the answer streams as server-sent events: `understood`, then each "
        "validated `item` as soon as the model has named it, `reason`/`summary` text deltas, `restart` when "
        "what streamed no longer holds, and `done` with the full answer (or `error`).",
    )
]


def provenance_headers(*, provider: str | None, cache: str, prompt_version: str) -> dict[str, str]:
    return {
        "X-Shopguide-Provider": provider or "none",
        "X-Shopguide-Cache": cache,
        "X-Shopguide-Prompt-Version": prompt_version,
    }


def recommend_blueprint(pipeline: RecommendPipeline) -> Blueprint:
    bp = Blueprint("recommend", __name__)

    @bp.post("/v1/recommend")
    def recommend() -> Response:
        body = read_body(RecommendRequest)
        trace = request_trace()
        trace.shopper_text = body.query
        rid = request_id()
        if wants_stream():
            return stream_response(
                lambda out: pipeline.run(body, rid, trace, out), text_field="summary", request_id=rid
            )
        answer = pipeline.run(body, rid, trace)
        headers = provenance_headers(
            provider=answer.provider, cache="hit" if answer.cached else "miss", prompt_version=answer.prompt_version
        )
        return json_response(answer, headers=headers)

    return bp
