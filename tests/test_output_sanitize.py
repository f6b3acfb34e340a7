"""Model prose keeps no markup, links, e-mail addresses or phone numbers of its own making (issue 13 item 10).

Through the API with an obedient model (the scripted upstream over HTTP) that writes what the
probe saw: ``<script>``, a phone number, "Visit http://phish.example to claim FAKE-1".
"""

from __future__ import annotations

from typing import Any

import pytest

from service.catalog.product import Product
from service.output.sanitize import ProseSanitizer, own_data, strip_markup
from tests.support import small_shop
from tests.support.copywriter import write_copy
from tests.support.openai_upstream import reply_fn
from tests.support.picks import pick_first_k
from tests.support.prometheus import sample

HOSTILE = [
    '<script>alert("x")</script>',
    "Visit http://phish.example to claim FAKE-1.",
    "Call 138-1234-5678 now!",
    "Questions? mail deals@phish.example.",
    "或访问 www.phish-shop.cn 领取优惠券。",
    "客服微信同号 13912345678。",
    "&lt;img src=x onerror=alert(1)&gt;",
]
BAD_TOKENS = ["<", ">", "script", "http", "phish", "FAKE-1", "138-1234-5678", "13912345678", "www.", "@", "onerror"]


def obedient(body: dict[str, Any]) -> dict[str, Any]:
    """pick_first_k, with every reason and the summary carrying the hostile text."""
    answer = pick_first_k(body)
    for i, item in enumerate(answer["items"]):
        item["reason"] = f"{item['reason']} {HOSTILE[i % len(HOSTILE)]} {HOSTILE[(i + 1) % len(HOSTILE)]}"
    answer["summary"] = "Here are the best matches. " + " ".join(HOSTILE)
    return answer


@pytest.mark.parametrize("query", ["warm down jacket for winter", "我想买一款适合冬天穿的羽绒服"])
def test_reasons_and_summaries_carry_no_markup_links_or_numbers(make_app, upstream, query: str) -> None:
    upstream.default(reply_fn(obedient))
    app = make_app()
    response = app.test_client().post("/v1/recommend", json={"query": query, "k": 5})
    body = response.json
    assert response.status_code == 200 and body["provider"] == "openai"
    texts = [item["reason"] for item in body["items"]] + [body["summary"]]
    for text in texts:
        assert text.strip()
        assert not any(token in text for token in BAD_TOKENS), text
    # the model's own honest sentence survives where it was not a lure
    assert any("fits what you asked for" in t or "很符合您的需求" in t for t in texts)
    exposition = app.test_client().get("/metrics").get_data(as_text=True)
    for kind in ("markup", "url", "phone", "email"):
        assert sample(exposition, "shopguide_output_sanitized_total", endpoint="recommend", kind=kind) >= 1, kind


def test_copy_variants_are_cleaned_too(upstream) -> None:
    def hostile_copy(body: dict[str, Any]) -> dict[str, Any]:
        copy = write_copy(body)
        for variant in copy["variants"]:
            variant["body"] += " <b>Hot</b> deal! Visit http://phish.example to claim FAKE-1."
            variant["bullets"].append("Call 138-1234-5678")
            variant["cta"] = "<script>x()</script>Shop now"
        return copy

    upstream.default(reply_fn(hostile_copy))
    settings = small_shop.settings(
        openai_api_key="sk-test", openai_base_url=upstream.base_url, providers="openai", retries=0
    )
    app = small_shop.app(settings)
    response = app.test_client().post("/v1/copy", json={"product_id": "p-down-1"})
    assert response.status_code == 200, response.json
    variants = response.json["variants"]
    assert variants
    for variant in variants:
        text = "\n".join([variant["headline"], variant["body"], *variant["bullets"], variant["cta"]])
        assert not any(token in text for token in ["<", "phish", "FAKE-1", "138-1234-5678", "script"]), text
        assert variant["cta"] == "Shop now" and "Hot deal!" in variant["body"]


PRODUCT = Product(
    id="p1", title="Trail jacket", brand="Acme",
    description="Support: 400-820-8820 or help@acme.example, see https://acme.example/care",
    url="https://shop.example/p1",
)


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        ("Great for hikes. Visit http://phish.example to claim FAKE-1. Warm too.", "Great for hikes. Warm too.", ["url"]),
        ("适合徒步。访问 phish.example/claim 领取。很暖和。", "适合徒步。很暖和。", ["url"]),
        ("<p>Warm <b>and</b> light</p>", "Warm and light", ["markup"]),
        ("<script>steal()</script>Warm.", "Warm.", ["markup"]),
        ("Light. Questions: help@acme.example.", "Light. Questions: help@acme.example.", []),  # the product's own
        ("Care guide: https://acme.example/care", "Care guide: https://acme.example/care", []),
        ("Call 400-820-8820 for sizing.", "Call 400-820-8820 for sizing.", []),
        ("Call 138 0000 1111 for sizing. It is warm.", "It is warm.", ["phone"]),
        ("Write to bob at evil dot com. It is warm.", "It is warm.", ["email"]),
        ("Buy at https://shop.example/p1 today", "Buy at https://shop.example/p1 today", []),
        ("Plain 5000mAh, 2.5 kg, v1.2 design.", "Plain 5000mAh, 2.5 kg, v1.2 design.", []),
        ("Acme \x1b\x1b\x1b", "Acme", ["control"]),  # what the packaged model wrote once
        ("Warm\u202e and light\x00.", "Warm and light.", ["control"]),
        ("Family pick 👨\u200d👩\u200d👧", "Family pick 👨\u200d👩\u200d👧", []),
    ],
)
def test_sanitizer_cases(text: str, expected: str, removed: list[str]) -> None:
    counted: list[tuple[str, int]] = []
    cleaned = ProseSanitizer(lambda kind, n: counted.append((kind, n))).clean(text, own_data(PRODUCT))
    assert cleaned.text == expected
    assert list(cleaned.removed) == removed
    assert sorted(k for k, _ in counted) == sorted(set(removed))


def test_markup_is_plain_text_after_stripping() -> None:
    assert strip_markup("M&M's & co <i>x</i>") == "M&M's & co x"
    assert strip_markup("&lt;script&gt;alert(1)&lt;/script&gt;ok") == "ok"
    assert strip_markup("5 < 6 and 7 > 3") == "5 < 6 and 7 > 3"
