"""The /v1/recommend response contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class RecommendedItem(BaseModel):
    id: str
    title: str
    price: float | None = None
    currency: str | None = None
    url: str | None = None
    image_url: str | None = None
    reason: str = Field(description="Why this product fits the request.")
    score: float = Field(description="Retrieval relevance score (higher is better).")
    source: Literal["llm", "retrieval"] = Field(
        description="llm: picked by the model, with its reason (or a facts-based one when the model's was unusable: "
        "looping, in another language, or naming internal ids); retrieval: filled from retrieval order with a "
        "facts-based reason."
    )


class Timings(BaseModel):
    retrieval: float = Field(description="Milliseconds spent retrieving candidates.")
    llm: float = Field(description="Milliseconds spent waiting for providers (0 on a cache hit).")
    total: float = Field(description="Milliseconds from request to response.")


class RecommendResponse(BaseModel):
    request_id: str
    items: list[RecommendedItem]
    summary: str
    provider: str | None = Field(description="The provider that answered; null when the answer is degraded.")
    model: str | None = None
    cached: bool
    degraded: bool = Field(description="True when no model answered and items come from retrieval alone.")
    prompt_version: str
    timings_ms: Timings
    fallback_from: list[str] = Field(
        default_factory=list, description="Providers that failed before the one that answered, as name:error."
    )
    invalid_ids_dropped: int = Field(0, description="Ids the model returned that were not candidates.")
    understood: dict[str, Any] | None = Field(None, description="Constraints understood from the shopper's words.")
