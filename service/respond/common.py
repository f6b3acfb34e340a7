"""Response shapes shared by every endpoint."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. invalid_request.")
    message: str = Field(description="What was wrong, for humans.")
    field: str | None = Field(None, description="The offending request field as a dotted path, when there is one.")


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
