"""/demo and /ops in a real browser, the axe accessibility check of every page, 375 px, keyboard, zh/en, screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AXE, OUTPUT, LiveServer
from tests.support.api_keys import bearer
from tests.support.openai_upstream import reply_fn, status
from tests.support.studio_copy import shop_model
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def ask(page, query: str) -> None:
    page.fill("#query", query)
    page.click("#ask button[type=submit]")
    expect(page.locator(".card").first).to_be_visible()


def card_ids(page) -> list[str]:
    return page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.product)")


def test_demo_answers_a_chinese_query_with_cards_and_chips(open_page, upstream):
    page = open_page("/demo", "shop")
    ask(page, "2000元以内的羽绒服")
    card = page.locator(".card").first
    expect(card.locator(".title")).not_to_be_empty()
    expect(card.locator(".price")).to_contain_text("¥")
    expect(card.locator(".reason")).to_contain_text("符合")
    expect(card.locator(".badge")).to_have_text("chosen by the model")
    expect(card.locator("img, .img-none")).to_have_count(1)  # the image, or a placeholder when it cannot load
    expect(page.locator('#chips [data-chip="price_max"]')).to_contain_text("2000")
    expect(page.locator('#chips [data-chip="category"]')).to_be_visible()
    expect(page.locator("#meta")).to_contain_text("ms")
    expect(page.locator("#meta")).to_contain_text("openai")
    prices = page.locator(".card .price").all_inner_texts()
    assert prices and all(float(re.sub(r"[^\d.]", "", p)) <= 2000 for p in prices)


def test_removing_a_chip_changes_the_results(open_page, upstream):
    page = open_page("/demo", "shop")
    ask(page, "1000元以内的羽绒服")
    before = card_ids(page)
    page.locator('#chips [data-chip="price_max"] button').click()
    expect(page.locator('#chips [data-chip="price_max"]')).to_have_count(0)
    expect(page.locator('#chips [data-chip="category"]')).to_be_visible()
    page.wait_for_function("ids => [...document.querySelectorAll('.card')].map(c => c.dataset.product).join() !== ids",
                           arg=",".join(before))
    assert card_ids(page) != before
    prices = page.locator(".card .price").all_inner_texts()
    assert any(float(re.sub(r"[^\d.]", "", p)) > 1000 for p in prices)  # the bound is gone


def test_demo_chat_panel_and_event_buttons_switch_on_and_change_the_next_answer(open_page, upstream):
    page = open_page("/demo", "shopper")
    expect(page.locator("#chat")).to_be_visible()  # /v1/chat is in /openapi.json
    ask(page, "羽绒服")
    first = card_ids(page)[0]
    page.locator(f'.card[data-product="{first}"] button.not-interested').click()
    expect(page.locator("#status")).to_contain_text("Noted")
    expect(page.locator(f'.card[data-product="{first}"]')).to_have_count(0)  # a dismissed product is never returned
    expect(page.locator(".card").first).to_be_visible()
    bought = card_ids(page)[0]
    page.locator(f'.card[data-product="{bought}"] button.bought').click()
    expect(page.locator("#status")).to_contain_text("Noted")
    # the chat panel: a turn answers with cards and keeps the conversation
    page.fill("#chat-input", "2000元以内的羽绒服")
    page.click("#chat-form button[type=submit]")
    expect(page.locator("#chat-log li")).to_have_count(2)
    expect(page.locator("#chat-log li.you")).to_have_text("2000元以内的羽绒服")
    expect(page.locator('#chips [data-chip="price_max"]')).to_contain_text("2000")
    page.fill("#chat-input", "便宜点的")
    page.click("#chat-form button[type=submit]")
    expect(page.locator("#chat-log li")).to_have_count(4)


def test_degraded_answers_say_so_and_ops_shows_the_breaker_opening(open_page, live: LiveServer, upstream):
    page = open_page("/ops", "ops")
    row = page.locator('#chain tr[data-provider="openai"]')
    expect(row.locator(".breaker")).to_have_attribute("data-state", "closed")
    expect(page.locator('#catalog [data-key="products"]')).to_have_text("324")
    expect(page.locator('#jobs [data-key="workers"]')).to_have_text("1")
    expect(page.locator("#config")).to_contain_text("OPENAI_API_KEY")
    assert "sk-browser-test-0123456789" not in page.content()
    upstream.default(status(500))
    try:
        for i in range(3):  # SHOPGUIDE_BREAKER_FAILURES=2
            r = httpx.post(live.url + "/v1/recommend", json={"query": f"羽绒服 {i}"}, headers=bearer("shop"), timeout=20)
            assert r.status_code == 200 and r.json()["degraded"]
        page.reload()  # the page refreshes every 5 s; the breaker stays open for SHOPGUIDE_BREAKER_COOLDOWN_S
        row = page.locator('#chain tr[data-provider="openai"]')
        expect(row.locator(".breaker")).to_have_attribute("data-state", "open")
        expect(page.locator('#rates [data-key="llm failures"]')).not_to_have_text("0")
        demo = open_page("/demo", "shop")
        ask(demo, "羽绒服")
        expect(demo.locator("#meta")).to_contain_text("degraded")
        expect(demo.locator(".card .badge").first).to_have_text("chosen by retrieval")
    finally:  # let the breaker close again for the tests after this one
        upstream.default(reply_fn(shop_model))
        wait_for(lambda: not httpx.post(live.url + "/v1/recommend", json={"query": "羽绒服 closed"},
                                        headers=bearer("shop"), timeout=20).json()["degraded"], timeout_s=30, interval_s=1)


@pytest.mark.parametrize("path", ["/studio", "/demo", "/ops"])
def test_axe_reports_no_serious_violations_at_desktop_and_375px(open_page, upstream, path: str):
    key = {"/studio": "writer", "/demo": "shop", "/ops": "ops"}[path]
    for width in (1280, 375):
        page = open_page(path, key, width=width, bypass_csp=True)  # axe is injected as a script
        if path == "/demo":
            ask(page, "羽绒服")
        elif path == "/studio":
            page.select_option("#f-category", "Clothing/Outerwear/Down")
            page.click("#search-form button[type=submit]")
            page.click('[data-product="SG-OUT-0001"] .open-product')
            expect(page.locator("#variant-0 mark.finding")).to_be_visible()
        else:
            expect(page.locator("#chain tbody tr").first).to_be_visible()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{path} at {width}px: {serious}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"


def test_keyboard_only_search_and_language_toggle(open_page, upstream):
    page = open_page("/studio")
    page.reload()  # the key stays in sessionStorage; start from a fresh page with nothing focused
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    for _ in range(3):  # main, then the search box: reached by keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("羽绒服")
    page.keyboard.press("Enter")
    expect(page.locator("#products li .open-product").first).to_be_visible()
    page.locator("#products li .open-product").first.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator("#variant-0")).to_be_visible(timeout=60_000)  # a generation; the loaded CI machine took over 20 s once
    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("文案工作台")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.reload()
    expect(page.locator("h1")).to_have_text("文案工作台")  # remembered
    assert page.evaluate("sessionStorage.getItem('sg.key')")  # the key stays in this tab only...
    assert page.evaluate("document.cookie") == ""  # ...and no cookie is ever set
    page.click("#lang-toggle")


def test_options_are_remembered_per_browser(open_page, upstream):
    page = open_page("/studio")
    page.select_option("#options [name=channel]", "email")
    page.fill("#options [name=banned_words]", "cheap, 便宜")
    page.fill("#options [name=variants]", "2")
    page.reload()
    expect(page.locator("#options [name=channel]")).to_have_value("email")
    expect(page.locator("#options [name=banned_words]")).to_have_value("cheap, 便宜")
    expect(page.locator("#options [name=variants]")).to_have_value("2")
    page.evaluate("localStorage.removeItem('sg.studio.options')")


def test_screenshots_of_each_page(open_page, upstream):
    """One screenshot per page in the test output; SHOPGUIDE_DOCS_SCREENSHOTS=1 writes the README's, in docs/."""
    target = DOCS if os.environ.get("SHOPGUIDE_DOCS_SCREENSHOTS") else OUTPUT
    target.mkdir(parents=True, exist_ok=True)
    page = open_page("/studio", height=1500)
    page.select_option("#f-category", "Clothing/Outerwear/Down")
    page.click("#search-form button[type=submit]")
    page.click('[data-product="SG-OUT-0001"] .open-product')
    expect(page.locator("#variant-0 mark.finding")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(target / "studio.png"))
    demo = open_page("/demo", "shop")
    ask(demo, "2000元以内的羽绒服")
    demo.screenshot(path=str(target / "demo.png"))
    ops = open_page("/ops", "ops")
    expect(ops.locator("#chain tbody tr").first).to_be_visible()
    ops.screenshot(path=str(target / "ops.png"))
    for name in ("studio", "demo", "ops"):
        assert (target / f"{name}.png").stat().st_size > 10_000
