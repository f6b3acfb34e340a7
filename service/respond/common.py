"""Response shapes shared by every endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. invalid_request.")
    message: str = Field(description="What was wrong, for humans.")
    field: str | None = Field(None, description="The offending request field as a dotted path, when there is one.")
    request_id: str = Field(
        description="This request's id (also the X-Request-ID response header): quote it when reporting a problem; "
        "the server log's lines for the request carry it."
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str = "ok"


class Readiness(BaseModel):
    ready: bool
    catalog: dict[str, Any] = Field(description="Products loaded, catalog version, rejected rows.")
    cache: dict[str, Any] = Field(description="Cache backend and whether it is reachable.")
    providers: list[dict[str, Any]] = Field(description="The provider chain in order, with readiness.")
    degraded_only: bool = Field(description="True when no model is configured and answers come from retrieval alone.")
    auth: str = Field("open", description="open when no API keys are configured, else keys.")
    problems: list[str] = Field(
        default_factory=list,
        description="What is wrong while the service still answers (degraded, uncached or from a fallback): a provider "
        "whose breaker is open or whose recent answers are mostly invalid, Redis skipped or unreachable, copy jobs down.",
    )
    jobs: dict[str, Any] | None = Field(
        None,
        description="Copy jobs: backend (rq or thread) and whether it answers (copy-job requests get 503 while not), "
        "live `shopguide worker` count (null in-process), queued chunks, and waiting_for_worker when chunks wait and "
        "no worker is alive.",
    )
    personalization: dict[str, Any] | None = Field(
        None, description="Whether answers are personalized now, and the event store's state (issue 12)."
    )
