"""Operator endpoints: Prometheus metrics and the effective configuration (both need the ops scope)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from pydantic import BaseModel, Field

from service.api.http import json_response
from service.api.openapi import Endpoint
from service.ops.config_view import effective_config
from service.ops.metrics import Metrics
from service.settings import Settings


class ConfigResponse(BaseModel):
    variables: dict[str, Any] = Field(description="Every variable's effective value by name; secrets masked.")
    auth: str = Field(description="open when no API keys are configured, else keys.")


ENDPOINTS = [
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics (text format), merged over all workers",
        "ops",
        None,
        response_media="text/plain",
    ),
    Endpoint("GET", "/v1/ops/config", "The effective configuration, secrets masked", "ops", ConfigResponse),
]


def ops_blueprint(settings: Settings, metrics: Metrics) -> Blueprint:
    bp = Blueprint("ops", __name__)
    config = ConfigResponse(variables=effective_config(settings), auth=settings.auth_mode)  # settings are frozen

    @bp.get("/metrics")
    def metrics_text() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @bp.get("/v1/ops/config")
    def ops_config() -> Response:
        return json_response(config)

    return bp
