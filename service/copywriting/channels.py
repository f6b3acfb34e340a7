"""Channel presets: how long each part of a copy variant may be, and the length check.

Limits come from the platforms' published rules or common practice::

    channel    headline  body short/medium/long (cap)  bullets (each)  cta
    pdp        80        300 / 800 / 2000 (5000)        3-5 (200)       30
    email      60        300 / 600 / 1200 (5000)        0-5 (120)       25
    social     60        100 / 280 / 500 (2200)         0-3 (80)        30
    ad         40        90 / 125 / 250 (500)           0-3 (30)        20
    search_ad  30        60 / 90 / 90 (90)              0-4 (25)        15

- pdp: titles near 80 read whole on mobile; five bullet points is the
  marketplace norm; Merchant Center descriptions stop at 5000.
- email: clients cut subject lines near 60; cta is button text.
- social: X posts hold 280, Instagram captions 2200; copy stays short.
- ad: Meta feed ads show a 40-character headline and ~125 of primary text.
- search_ad: Google responsive search ads: headline 30, description 90 (the
  body), callout assets 25 (the bullets), display path 15 (the cta).

Counting convention: a length is the number of Unicode code points after NFC
normalization and trimming, so one Chinese character counts as one (the product
issue asks for Chinese counted by characters; it is also what local constrained
decoding enforces for ``maxLength``). Google Ads, Meta and Baidu count a
double-width (CJK) character as two; pass ``count="width"`` to
:func:`channel_limits` to count East Asian wide and full-width characters as two
when the copy goes to such a platform (a 30-unit search-ad headline then holds
15 Chinese characters).
"""

from __future__ import annotations

import unicodedata
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from service.copywriting.schema import CopyVariant

Channel = Literal["pdp", "email", "social", "ad", "search_ad"]
LengthPreset = Literal["short", "medium", "long"]
CountMode = Literal["chars", "width"]

CHANNELS: tuple[str, ...] = get_args(Channel)
LENGTHS: tuple[str, ...] = get_args(LengthPreset)


class ChannelLimits(BaseModel):
    """Length limits of one channel at one length preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    headline_max: int = Field(ge=1)
    body_max: int = Field(ge=1)
    bullets_min: int = Field(ge=0)
    bullets_max: int = Field(ge=0)
    bullet_max: int = Field(ge=1)
    cta_max: int = Field(ge=1)
    count: CountMode = "chars"


class _Preset(BaseModel):
    model_config = ConfigDict(frozen=True)

    headline_max: int
    body: dict[str, int]
    body_cap: int
    bullets_min: int
    bullets_max: int
    bullet_max: int
    cta_max: int


_PRESETS: dict[str, _Preset] = {
    "pdp": _Preset(
        headline_max=80,
        body={"short": 300, "medium": 800, "long": 2000},
        body_cap=5000,
        bullets_min=3,
        bullets_max=5,
        bullet_max=200,
        cta_max=30,
    ),
    "email": _Preset(
        headline_max=60,
        body={"short": 300, "medium": 600, "long": 1200},
        body_cap=5000,
        bullets_min=0,
        bullets_max=5,
        bullet_max=120,
        cta_max=25,
    ),
    "social": _Preset(
        headline_max=60,
        body={"short": 100, "medium": 280, "long": 500},
        body_cap=2200,
        bullets_min=0,
        bullets_max=3,
        bullet_max=80,
        cta_max=30,
    ),
    "ad": _Preset(
        headline_max=40,
        body={"short": 90, "medium": 125, "long": 250},
        body_cap=500,
        bullets_min=0,
        bullets_max=3,
        bullet_max=30,
        cta_max=20,
    ),
    "search_ad": _Preset(
        headline_max=30,
        body={"short": 60, "medium": 90, "long": 90},
        body_cap=90,
        bullets_min=0,
        bullets_max=4,
        bullet_max=25,
        cta_max=15,
    ),
}


def channel_limits(
    channel: str,
    length: str | None = None,
    *,
    max_chars: int | None = None,
    count: CountMode = "chars",
) -> ChannelLimits:
    """Limits of ``channel`` at a length preset (default ``medium``) or an explicit body ``max_chars``.

    ``max_chars`` wins over ``length`` and is capped at the channel's platform
    maximum (a search-ad description never exceeds 90).

    :raises ValueError: unknown channel or length, or ``max_chars`` below 1.
    """
    preset = _PRESETS.get(channel)
    if preset is None:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    if length is not None and length not in LENGTHS:
        raise ValueError(f"unknown length {length!r}; known: {', '.join(LENGTHS)}")
    if max_chars is not None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        body_max = min(max_chars, preset.body_cap)
    else:
        body_max = preset.body[length or "medium"]
    return ChannelLimits(
        channel=channel,
        headline_max=preset.headline_max,
        body_max=body_max,
        bullets_min=preset.bullets_min,
        bullets_max=preset.bullets_max,
        bullet_max=preset.bullet_max,
        cta_max=preset.cta_max,
        count=count,
    )


def text_length(text: str, count: CountMode = "chars") -> int:
    """Length of ``text`` as the channels count it (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).strip()
    if count == "chars":
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def check_length(variant: CopyVariant, limits: ChannelLimits) -> list[str]:
    """Every way ``variant`` breaks ``limits``, one readable line each; empty when it fits."""
    unit = "characters" if limits.count == "chars" else "width units"
    problems: list[str] = []

    def field(name: str, text: str, maximum: int, required: bool) -> None:
        size = text_length(text, limits.count)
        if required and size == 0:
            problems.append(f"{name}: empty")
        elif size > maximum:
            problems.append(f"{name}: {size} {unit}, max {maximum}")

    field("headline", variant.headline, limits.headline_max, required=True)
    field("body", variant.body, limits.body_max, required=True)
    n = len(variant.bullets)
    if not limits.bullets_min <= n <= limits.bullets_max:
        problems.append(f"bullets: {n} given, allowed {limits.bullets_min}-{limits.bullets_max}")
    for i, bullet in enumerate(variant.bullets):
        field(f"bullets[{i}]", bullet, limits.bullet_max, required=True)
    field("cta", variant.cta, limits.cta_max, required=False)
    return problems
