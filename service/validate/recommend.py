"""The /v1/recommend request contract."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from service.validate.base import FieldError, StrictModel

Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", max_length=35)]


class Filters(StrictModel):
    """Hard constraints on candidates. Every returned item passes them. ``price_min`` must not exceed
    ``price_max`` (400 otherwise; JSON Schema cannot compare two fields, so the schema states it as
    ``x-rules``)."""

    model_config = ConfigDict(json_schema_extra={"x-rules": ["price_min <= price_max"]})

    price_min: float | None = Field(None, ge=0, allow_inf_nan=False, description="Lowest price; at most price_max.")
    price_max: float | None = Field(None, ge=0, allow_inf_nan=False, description="Highest price; at least price_min.")
    category: str | None = Field(None, max_length=200, description="Category prefix, e.g. Clothing/Outerwear.")
    brand: str | None = Field(None, max_length=200)
    in_stock: bool = Field(True, description="Only products in stock (default true).")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="Only products priced in this ISO currency (price bounds are in it)."
    )
    exclude_brands: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20, description="Brands to leave out (case-insensitive)."
    )
    exclude_terms: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=20,
        description="Leave out products whose title, category or tags hold every word of one of these phrases.",
    )

    @model_validator(mode="after")
    def _range(self) -> Filters:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


class User(StrictModel):
    """Who is asking. The id is hashed before it leaves the service."""

    id: str | None = Field(None, max_length=200)
    profile: str | None = Field(None, max_length=1000, description="Free-text preferences.")
    recent_product_ids: list[Annotated[str, StringConstraints(max_length=256)]] = Field(
        default_factory=list, max_length=50, description="Products the shopper saw recently, most recent first."
    )
    include_purchased: bool = Field(
        False, description="Also recommend products this shopper already bought (left out by default)."
    )


class RecommendRequest(StrictModel):
    # issue 14 item 12: examples for /docs (Swagger UI's example menu), runnable against the demo catalog
    EXAMPLES: ClassVar[dict[str, dict[str, Any]]] = {
        "中文": {
            "query": "零下二十度能穿的长款羽绒服，女款，两千元以内",
            "k": 3,
            "filters": {"price_max": 2000, "currency": "CNY", "category": "Clothing/Outerwear"},
            "language": "zh",
        },
        "English": {
            "query": "a warm packable down jacket for winter hiking, under $400",
            "k": 3,
            "filters": {"price_max": 400, "currency": "USD", "exclude_brands": ["Glacier Fox"]},
            "language": "en",
        },
        "for you (issue 12)": {"k": 3, "user": {"id": "shopper-42"}},
    }
    # issue 12: a query, or a shopper to recommend for ("for you"): the cross-field rule, stated in the schema
    model_config = ConfigDict(
        json_schema_extra={
            "examples": list(EXAMPLES.values()),
            "anyOf": [
                {"required": ["query"], "properties": {"query": {"type": "string"}}},
                {
                    "required": ["user"],
                    "properties": {
                        "user": {
                            "type": "object",
                            "anyOf": [
                                {"required": ["id"], "properties": {"id": {"type": "string"}}},
                                {"required": ["recent_product_ids"], "properties": {"recent_product_ids": {"minItems": 1}}},
                            ],
                        }
                    },
                },
            ],
            "x-rules": ["query, or user.id or user.recent_product_ids"],
        }
    )

    query: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="The shopper's words. Optional when a user (id or recent_product_ids) is given: without it the "
        "answer is the shopper's \"for you\" selection.",
        json_schema_extra={"pattern": r"\S"},  # what _not_blank checks, stated in the schema (pattern: strings only)
    )
    k: int = Field(5, ge=1, le=20, description="How many products to return.")
    filters: Filters = Field(default_factory=Filters)
    language: Language | None = Field(None, description="Answer language; default: the query's language.")
    user: User | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("query must not be blank")
        return value

    @model_validator(mode="after")
    def _query_or_user(self) -> RecommendRequest:
        if self.query is None and not (self.user and (self.user.id or self.user.recent_product_ids)):
            raise FieldError("query", "required unless user.id or user.recent_product_ids is given")
        return self
