"""The /v1/copy and /v1/copy/jobs request contracts."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from service.catalog.product import Product
from service.copywriting.channels import Channel, ChannelLimits, LengthPreset, channel_limits
from service.validate.base import StrictModel
from service.validate.recommend import Language

TONE_PRESETS: dict[str, str] = {
    "friendly": "warm, conversational and approachable",
    "premium": "refined, confident and understated; quality over hype",
    "playful": "light, witty and energetic, without slang overload",
    "technical": "precise and factual; lead with specifications and what they mean",
    "professional": "clear, trustworthy and businesslike",
    "minimal": "short, plain sentences; no adjectives that carry no information",
}

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Example = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class InlineProduct(Product):
    """A product sent with the request instead of looked up in the catalog; ``id`` is optional."""

    id: str | None = Field(None, min_length=1, max_length=256)  # type: ignore[assignment]

    def to_product(self) -> Product:
        """The product with an id: the given one, else ``inline-`` + a hash of its data (stable for caching)."""
        data = self.model_dump()
        if not data.get("id"):
            blob = self.model_dump_json(exclude={"id"}).encode()
            data["id"] = "inline-" + hashlib.sha256(blob).hexdigest()[:16]
        return Product.model_validate(data)


class CopyOptions(StrictModel):
    """How the copy is written; shared by single requests, CLI runs and jobs."""

    # _one_length's rule in the schema (issue 16's nested options are checked by fuzzing too): not both set.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "not": {
                "required": ["length", "max_chars"],
                "properties": {"length": {"type": "string"}, "max_chars": {"type": "integer"}},
            }
        },
    )

    channel: Channel = Field("pdp", description="Where the copy runs: pdp, email, social, ad or search_ad.")
    tone: str = Field(
        "friendly",
        min_length=1,
        max_length=200,
        json_schema_extra={"pattern": r"\S"},  # not blank: the schema says what _tone checks
        description=f"A preset ({', '.join(TONE_PRESETS)}) or free text describing the tone.",
    )
    length: LengthPreset | None = Field(None, description="Body length preset (default medium); or give max_chars.")
    max_chars: int | None = Field(None, ge=1, le=5000, description="Body length cap in characters (capped per channel).")
    language: Language | None = Field(None, description="Copy language; default: the product's language.")
    audience: str | None = Field(None, max_length=500, description="Who the copy speaks to.")
    brand_voice: str | None = Field(None, max_length=2000, description="How the brand sounds, in your words.")
    examples: list[Example] = Field(
        default_factory=list, max_length=5, description="Copy in the brand's voice to imitate (style only)."
    )
    keywords: list[Term] = Field(default_factory=list, max_length=20, description="Words that should appear.")
    banned_words: list[Term] = Field(
        default_factory=list, max_length=100, description="Words that must not appear (case-insensitive; `word*` = prefix)."
    )
    variants: int = Field(3, ge=1, le=5, description="How many alternative variants to write.")
    strict: bool = Field(
        False, description="Drop variants with unsupported claims or over-length fields instead of flagging them."
    )

    @field_validator("tone")
    @classmethod
    def _tone(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("tone must not be blank")
        return value

    @field_validator("max_chars")
    @classmethod
    def _one_length(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("length") is not None:
            raise ValueError("give length or max_chars, not both")
        return value

    def limits(self) -> ChannelLimits:
        """The channel's limits at this length."""
        return channel_limits(self.channel, self.length, max_chars=self.max_chars)

    def tone_preset(self) -> str | None:
        """The preset's description when ``tone`` names one, else None (free text)."""
        return TONE_PRESETS.get(self.tone.lower())


# The rule _one_product enforces, stated in the schema (issue 13 item 12): exactly one of the two is given.
_ONE_PRODUCT = {
    "oneOf": [
        {"required": ["product_id"], "properties": {"product_id": {"type": "string"}, "product": {"type": "null"}}},
        {"required": ["product"], "properties": {"product": {"type": "object"}, "product_id": {"type": "null"}}},
    ]
}


class CopyRequest(CopyOptions):
    """POST /v1/copy: copy for one product, from the catalog (``product_id``) or inline (``product``)."""

    # issue 14 item 12: examples for /docs, runnable against the demo catalog
    EXAMPLES: ClassVar[dict[str, dict[str, Any]]] = {
        "中文：商品详情页": {
            "product_id": "SG-OUT-0001",
            "channel": "pdp",
            "tone": "premium",
            "language": "zh",
            "keywords": ["鹅绒", "保暖"],
            "banned_words": ["便宜"],
            "variants": 2,
        },
        "English: search ad": {
            "product_id": "SG-OUT-0016",
            "channel": "search_ad",
            "tone": "technical",
            "language": "en",
            "keywords": ["800-fill"],
            "variants": 3,
        },
        "English: inline product": {
            "product": {
                "title": "Trailhead Insulated Bottle 750 ml",
                "description": "Double-wall stainless steel keeps drinks cold for 24 hours or hot for 12.",
                "brand": "Trailhead",
                "price": 29.0,
                "currency": "USD",
                "attributes": {"capacity_ml": 750, "material": "18/8 stainless steel"},
            },
            "channel": "social",
            "tone": "playful",
            "variants": 2,
        },
    }
    model_config = ConfigDict(json_schema_extra={**_ONE_PRODUCT, "examples": list(EXAMPLES.values())})

    product_id: ProductId | None = Field(None, description="A catalog product id.")
    product: InlineProduct | None = Field(
        None, validate_default=True, description="The product's data, when it is not in the catalog."
    )

    @field_validator("product")
    @classmethod
    def _one_product(cls, value: InlineProduct | None, info: ValidationInfo) -> InlineProduct | None:
        if "product_id" not in info.data:  # product_id itself was invalid and is reported
            return value
        if value is not None and info.data["product_id"] is not None:
            raise ValueError("give product_id or product, not both")
        if value is None and info.data["product_id"] is None:
            raise ValueError("give product_id or product")
        return value

    def options(self) -> CopyOptions:
        return CopyOptions.model_validate(self.model_dump(exclude={"product_id", "product"}))


class CopyJobRequest(CopyOptions):
    """POST /v1/copy/jobs: copy for many catalog products, written in the background."""

    EXAMPLES: ClassVar[dict[str, dict[str, Any]]] = {
        "中文：三件商品": {
            "product_ids": ["SG-OUT-0001", "SG-OUT-0002", "SG-OUT-0003"],
            "channel": "social",
            "language": "zh",
            "audience": "北方城市的上班族",
            "variants": 1,
        },
        "English: whole catalog": {"product_ids": "all", "channel": "email", "tone": "friendly", "variants": 1},
    }
    model_config = ConfigDict(json_schema_extra={"examples": list(EXAMPLES.values())})

    product_ids: Annotated[list[ProductId], Field(min_length=1, max_length=100_000)] | Literal["all"] = Field(
        description='Catalog product ids (at most 100000), or "all" for the whole catalog.'
    )

    @field_validator("product_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        # Checked here so errors read "product_ids[3]: ..." rather than naming the union's members.
        if value == "all":
            return value
        if not isinstance(value, list):
            raise ValueError('give a list of product ids, or "all"')
        if not value:
            raise ValueError('give at least one product id, or "all"')
        if len(value) > 100_000:
            raise ValueError("at most 100000 product ids per job")
        for i, pid in enumerate(value):
            if not isinstance(pid, str) or not 1 <= len(pid) <= 256:
                raise ValueError(f"product_ids[{i}] must be a product id (a string of 1 to 256 characters)")
        return value

    def options(self) -> CopyOptions:
        return CopyOptions.model_validate(self.model_dump(exclude={"product_ids"}))
