"""The result of query understanding: what the shopper's words say beyond the words themselves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Understood(BaseModel):
    """What the shopper's words say, beyond the words themselves. Every field is only what was found."""

    model_config = ConfigDict(extra="forbid")

    price_min: float | None = None
    price_max: float | None = None
    currency: str | None = Field(None, description='ISO code of a currency written in the query, e.g. "USD", "CNY".')
    cheap: bool = Field(False, description="Asked for cheap/affordable (便宜点, budget ...).")
    premium: bool = Field(False, description="Asked for high-end, or said price does not matter.")
    category: str | None = Field(None, description="A category path prefix of the catalog.")
    brand: str | None = Field(None, description="A catalog brand, in the catalog's spelling.")
    exclude_terms: list[str] = Field(default_factory=list, description="What the shopper said they do not want.")
    exclude_brands: list[str] = Field(default_factory=list, description="Catalog brands among exclude_terms.")
    in_stock: bool | None = None
    cleaned_query: str = Field("", description="The query without price and exclusion phrases, for retrieval.")

    def found(self) -> dict[str, Any]:
        """Only the fields that hold something (for the response's ``understood``)."""
        return self.model_dump(exclude_defaults=True)

