"""The /v1/recommend response contract."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class RecommendedItem(BaseModel):
    id: str
    title: str
    price: float | None = None
    currency: str | None = None
    url: str | None = None
    image_url: str | None = None
    reason: str = Field(description="Why this product fits the request.")
    score: float = Field(description="Retrieval relevance score (higher is better).")
    personalized: bool = Field(False, description="True when the shopper's history shaped this pick.")
    because: list[str] = Field(
        default_factory=list, description="Product ids from the shopper's history that speak for this pick, strongest first."
    )
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
    # issue 14 item 12: what /docs shows as the response
    EXAMPLES: ClassVar[dict[str, dict[str, Any]]] = {
        "中文": {
            "request_id": "3f2a9c0d5b7e4a61",
            "items": [
                {
                    "id": "SG-OUT-0001",
                    "title": "雪域 女士过膝长款鹅绒羽绒服 加厚连帽",
                    "price": 1899.0,
                    "currency": "CNY",
                    "url": "https://shop.example.com/p/SG-OUT-0001",
                    "image_url": "https://img.shop.example.com/SG-OUT-0001.jpg",
                    "reason": "90%白鹅绒、充绒量280g，过膝长款，适合零下25℃，价格在两千元以内。",
                    "score": 12.4,
                    "source": "llm",
                }
            ],
            "summary": "按保暖和长度挑选了两千元以内的女款长羽绒服。",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "cached": False,
            "degraded": False,
            "prompt_version": "recommend-5c1e0a",
            "timings_ms": {"retrieval": 4.1, "llm": 812.0, "total": 823.5},
            "fallback_from": [],
            "invalid_ids_dropped": 0,
            "understood": {"price_max": 2000.0, "category": "Clothing/Outerwear/Down"},
        },
        "English (degraded)": {
            "request_id": "9b1e77c2a0d34f58",
            "items": [
                {
                    "id": "SG-OUT-0016",
                    "title": "Northpeak Summit 800 Hooded Down Jacket - Men's",
                    "price": 349.0,
                    "currency": "USD",
                    "url": "https://shop.example.com/p/SG-OUT-0016",
                    "image_url": None,
                    "reason": "800-fill goose down, packs into its own chest pocket, comfortable to about -15°C.",
                    "score": 10.2,
                    "source": "retrieval",
                }
            ],
            "summary": "Matches for your search, ranked by relevance.",
            "provider": None,
            "model": None,
            "cached": False,
            "degraded": True,
            "prompt_version": "recommend-5c1e0a",
            "timings_ms": {"retrieval": 3.8, "llm": 0.0, "total": 5.2},
            "fallback_from": ["openai:RetryableProviderError", "local:ExpectedTooSlow"],
            "invalid_ids_dropped": 0,
            "understood": None,
        },
    }
    model_config = ConfigDict(json_schema_extra={"examples": list(EXAMPLES.values())})

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
