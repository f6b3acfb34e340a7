"""The /v1/recommend request contract."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from service.validate.base import StrictModel

Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$", max_length=35)]


class Filters(StrictModel):
    """Hard constraints on candidates. Every returned item passes them."""

    price_min: float | None = Field(None, ge=0, allow_inf_nan=False)
    price_max: float | None = Field(None, ge=0, allow_inf_nan=False)
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
        default_factory=list, max_length=50
    )


class RecommendRequest(StrictModel):
    query: str = Field(min_length=1, max_length=2000, description="The shopper's words.")
    k: int = Field(5, ge=1, le=20, description="How many products to return.")
    filters: Filters = Field(default_factory=Filters)
    language: Language | None = Field(None, description="Answer language; default: the query's language.")
    user: User | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be blank")
        return value
