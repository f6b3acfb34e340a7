"""Channel presets and the length check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.copywriting.channels import CHANNELS, LENGTHS, channel_limits, check_length, text_length
from service.copywriting.schema import CopyVariant


def variant(headline: str = "Warm and light", body: str = "A down jacket for cold days.", bullets=None, cta="Shop now"):
    return CopyVariant(headline=headline, body=body, bullets=bullets if bullets is not None else [], cta=cta)


def test_search_ad_uses_google_limits() -> None:
    limits = channel_limits("search_ad")
    assert (limits.headline_max, limits.body_max, limits.bullet_max) == (30, 90, 25)


def test_search_ad_headline_over_30_is_flagged() -> None:
    limits = channel_limits("search_ad")
    headline = "Ultralight 800-Fill Down Coats!"  # 31 characters
    assert len(headline) == 31
    assert check_length(variant(headline=headline), limits) == ["headline: 31 characters, max 30"]
    assert check_length(variant(headline=headline[:30]), limits) == []


def test_chinese_headline_is_counted_by_characters() -> None:
    limits = channel_limits("search_ad")
    headline = "轻盈保暖的白鸭绒羽绒服冬季必备款女士长款加厚外套限时特惠现货"  # 30 characters
    assert len(headline) == 30
    assert check_length(variant(headline=headline), limits) == []
    assert check_length(variant(headline=headline + "！"), limits) == ["headline: 31 characters, max 30"]


def test_width_mode_counts_cjk_twice() -> None:
    limits = channel_limits("search_ad", count="width")
    assert check_length(variant(headline="轻盈保暖白鸭绒羽绒服冬季必备款"), limits) == []  # 15 wide characters
    assert check_length(variant(headline="轻盈保暖白鸭绒羽绒服冬季必备款!"), limits) == [
        "headline: 31 width units, max 30"
    ]
    assert text_length("Ａ中a", "width") == 5


def test_length_presets_and_explicit_max_chars() -> None:
    assert [channel_limits("social", length).body_max for length in LENGTHS] == [100, 280, 500]
    assert channel_limits("social").body_max == 280
    assert channel_limits("pdp", max_chars=1234).body_max == 1234
    # capped at the platform's maximum
    assert channel_limits("search_ad", max_chars=500).body_max == 90
    assert channel_limits("email", "long", max_chars=50).body_max == 50


@pytest.mark.parametrize(("channel", "length", "max_chars"), [("tv", None, None), ("pdp", "huge", None), ("ad", None, 0)])
def test_bad_arguments(channel: str, length: str | None, max_chars: int | None) -> None:
    with pytest.raises(ValueError):
        channel_limits(channel, length, max_chars=max_chars)


def test_every_preset_is_consistent() -> None:
    for channel in CHANNELS:
        for length in LENGTHS:
            limits = channel_limits(channel, length)
            assert limits.bullets_min <= limits.bullets_max
            assert limits.headline_max < limits.body_max or channel == "search_ad"


def test_all_problems_are_listed() -> None:
    limits = channel_limits("pdp", "short")
    bad = variant(headline="", body="x" * 301, bullets=["ok", "", "y" * 201, "a", "b", "c"], cta="z" * 31)
    assert check_length(bad, limits) == [
        "headline: empty",
        "body: 301 characters, max 300",
        "bullets: 6 given, allowed 3-5",
        "bullets[1]: empty",
        "bullets[2]: 201 characters, max 200",
        "cta: 31 characters, max 30",
    ]


def test_too_few_bullets_on_pdp() -> None:
    assert check_length(variant(bullets=["one"]), channel_limits("pdp")) == ["bullets: 1 given, allowed 3-5"]


def test_surrounding_whitespace_and_composed_forms_do_not_count() -> None:
    assert text_length("  cafe\u0301 \n") == 4  # NFC composes e + acute into one character


@given(st.text(alphabet=st.characters(codec="utf-8", categories=("Lu", "Ll", "Lo", "Nd")), max_size=60))
def test_width_is_between_chars_and_twice_chars(text: str) -> None:
    chars = text_length(text)
    assert chars <= text_length(text, "width") <= 2 * chars
