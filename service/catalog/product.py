"""The product record every other step reads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Product(BaseModel):
    """One catalog product. Immutable once loaded."""

    # Numeric SKUs ("id": 123) are common in shop exports: read them as strings.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=1000)
    description: str = ""
    category: str = Field("", description="Slash path, e.g. Clothing/Outerwear/Down.")
    brand: str = ""
    price: float | None = Field(None, ge=0, allow_inf_nan=False)
    # The pattern is what a client may send (the schema says so); the stored value is upper-case, or None.
    currency: str | None = Field(
        None, pattern=r"^\s*([A-Za-z]{3}\s*)?$", description="ISO 4217 code (any case; blank = none)."
    )
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    in_stock: bool = True
    url: str | None = None
    image_url: str | None = None
    lang: str | None = None

    @field_validator("category")
    @classmethod
    def _normalize_category(cls, value: str) -> str:
        parts = [p.strip() for p in value.split("/") if p.strip()]
        return "/".join(parts)

    @field_validator("price", mode="before")
    @classmethod
    def _no_bool_price(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("price must be a number, not a boolean")
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            return value or None
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _clean_tags(cls, value: object) -> object:
        # Strings are stripped and blank ones dropped; anything else is left to the type check (a number is read
        # as a string in a catalog file, an object is refused: the schema says strings).
        if isinstance(value, (list, tuple)):
            return tuple(t.strip() if isinstance(t, str) else t for t in value if not isinstance(t, str) or t.strip())
        return value

    @field_validator("attributes")
    @classmethod
    def _fits_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Every step after this one (prompt data, cache keys, stored records) encodes with orjson, whose
        # integers are 64-bit: a larger one must be refused here, naming the field, not fail later as a 500.
        def check(item: object) -> None:
            if isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**64:
                raise ValueError("a number in attributes is too large (integers must fit in 64 bits)")
            if isinstance(item, dict):
                for inner in item.values():
                    check(inner)
            elif isinstance(item, (list, tuple)):
                for inner in item:
                    check(inner)

        check(value)
        return value

    def facts(self) -> dict[str, Any]:
        """The product as data for prompts: only fields that hold something."""
        data = self.model_dump(exclude={"url", "image_url", "lang"})
        return {k: v for k, v in data.items() if v not in (None, "", {}, ())}
