"""POST /v1/chat, GET and DELETE /v1/chat/{session_id}."""

from __future__ import annotations

import re

from flask import Blueprint, Response

from service.api.http import json_response, read_body, request_id, request_trace
from service.api.openapi import Endpoint
from service.chat.pipeline import ChatPipeline
from service.chat.session import SESSION_ID_PATTERN
from service.errors import NotFound
from service.respond.chat import ChatResponse, ChatTranscript
from service.stream.sse import stream_response, wants_stream
from service.validate.chat import ChatTurnRequest

_SESSION_ID = re.compile(SESSION_ID_PATTERN)
_SESSION_PARAM = (("session_id", "path", "The conversation's id, from a /v1/chat answer."),)

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/chat",
        "One turn of a shopping conversation",
        "chat",
        ChatResponse,
        ChatTurnRequest,
        errors=(400, 404, 413, 415, 503, 504),
        scope="recommend",
        description="Continues the conversation `session_id` (or starts one): constraints accumulate across "
        "turns and can be lifted, shown products can be pointed at (\"the second one\", \"第二个\", \"that "
        "Sonara\"), rejected ones are not shown again, \"cheaper\" is relative to what was shown, a vague opener "
        "gets one clarifying question, and comparisons and product questions are answered from catalog data. "
        "With `Accept: text/event-stream` the answer streams as server-sent events: `understood`, each "
        "validated `item` as soon as the model has named it, `reason`/`reply` deltas, `restart`, and `done` "
        "with the full answer (or `error`).",
    ),
    Endpoint(
        "GET",
        "/v1/chat/{session_id}",
        "A conversation's transcript and state",
        "chat",
        ChatTranscript,
        errors=(404, 503),
        scope="recommend",
        parameters=_SESSION_PARAM,
    ),
    Endpoint(
        "DELETE",
        "/v1/chat/{session_id}",
        "Forget a conversation",
        "chat",
        None,
        errors=(404, 503),
        scope="recommend",
        status=204,
        parameters=_SESSION_PARAM,
    ),
]


def _checked(session_id: str) -> str:
    if not _SESSION_ID.match(session_id):
        raise NotFound("no such conversation", field="session_id", code="session_not_found")
    return session_id


def chat_blueprint(pipeline: ChatPipeline) -> Blueprint:
    bp = Blueprint("chat", __name__)

    @bp.post("/v1/chat")
    def chat() -> Response:
        body = read_body(ChatTurnRequest)
        trace = request_trace()
        trace.shopper_text = body.message
        rid = request_id()
        opened = pipeline.open(body)  # an unknown session is a 404 before any stream starts
        if wants_stream():
            return stream_response(
                lambda out: pipeline.run(body, opened, rid, trace, out), text_field="reply", request_id=rid
            )
        answer = pipeline.run(body, opened, rid, trace)
        return json_response(answer, headers={"X-Shopguide-Provider": answer.provider or "none"})

    @bp.get("/v1/chat/<session_id>")
    def transcript(session_id: str) -> Response:
        return json_response(pipeline.transcript(_checked(session_id)))

    @bp.delete("/v1/chat/<session_id>")
    def forget(session_id: str) -> Response:
        pipeline.forget(_checked(session_id))
        return Response(status=204)

    return bp
