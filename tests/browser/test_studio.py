"""/studio in a real browser: generate → findings on the sentence → edit clears them → approve → restart → history →
export; bulk upload of 50 → progress 100 % → review queue of 50; cancel/resume; a conflicting approval."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.support.api_keys import bearer
from tests.support.studio_copy import CLAIM, CLAIM_SENTENCE
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOWN = "Clothing/Outerwear/Down"


def open_product(page, product_id: str, category: str = DOWN) -> None:
    page.select_option("#f-category", category)
    page.click("#search-form button[type=submit]")
    page.click(f'[data-product="{product_id}"] .open-product')
    expect(page.locator("#variant-0")).to_be_visible()


def test_generate_edit_approve_survives_a_restart_and_exports(open_page, live: LiveServer, upstream, tmp_path: Path):
    page = open_page("/studio")
    open_product(page, "SG-OUT-0003")
    card = page.locator("#variant-0")
    # the unsupported number is marked on its own sentence, with why
    mark = card.locator("mark.finding")
    expect(mark).to_have_text(CLAIM_SENTENCE)
    assert "does not back" in mark.get_attribute("title")
    expect(card.locator(".finding-item")).to_contain_text(CLAIM)
    expect(page.locator("#variant-1 .findings")).to_contain_text("No findings")
    # approving it as it is is refused until an override is given
    card.locator("button.approve").click()
    expect(page.locator("#alert")).to_contain_text("override")
    # the edit is checked again as it is typed (debounced): the finding goes away
    body = card.locator("textarea[name=body]")
    body.fill(body.input_value().replace(CLAIM_SENTENCE, ""))
    expect(card.locator(".findings")).to_contain_text("No findings")
    expect(card.locator("mark.finding")).to_have_count(0)
    card.locator("button.approve").click()
    expect(page.locator("#status")).to_contain_text("Approved (version 1)")
    expect(page.locator("#history-list li")).to_have_count(1)
    expect(page.locator("#history-list li").first).to_contain_text("edited")

    live.restart()  # SIGKILL: nothing acknowledged may be lost

    page = open_page("/studio")
    page.select_option("#f-category", DOWN)
    page.click("#search-form button[type=submit]")
    expect(page.locator('[data-product="SG-OUT-0003"] .badge')).to_have_text("approved")
    page.click('[data-product="SG-OUT-0003"] .open-product')
    history = page.locator("#history-list li")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("approved")
    expect(history.first).to_contain_text("writer")
    expect(history.first).to_contain_text("openai gpt-4o-mini")
    with page.expect_download() as download:
        page.click("#export-csv")
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["Handle", "Title", "Body (HTML)", "SEO Title", "SEO Description", "Tags"]
    row = next(r for r in rows if r["Handle"] == "SG-OUT-0003")
    assert row["Body (HTML)"].startswith("<p>") and CLAIM not in row["Body (HTML)"] and row["Title"]


def _upload_file(tmp_path: Path, count: int, prefix: str) -> Path:
    rows = [
        {"id": f"{prefix}-{i:03d}", "title": f"保温杯 {i} 号", "description": "不锈钢内胆，保温12小时。", "price": 59 + i,
         "currency": "CNY", "category": "Home/Kitchen", "tags": ["保温", "通勤"]}
        for i in range(count)
    ]
    path = tmp_path / f"{prefix}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_bulk_upload_of_50_reaches_100_percent_and_fills_the_review_queue(open_page, upstream, tmp_path: Path):
    page = open_page("/studio")
    page.set_input_files("#upload-file", str(_upload_file(tmp_path, 50, "BULK")))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#job")).to_be_visible()
    expect(page.locator("#job-progress")).to_have_attribute("value", "100", timeout=90_000)
    expect(page.locator("#job-state")).to_have_text("completed")
    expect(page.locator("#job-text")).to_contain_text("50/50")
    page.click("#job-review")
    expect(page.locator("#queue-count")).to_have_text("50 results")
    expect(page.locator("#queue li")).to_have_count(50)
    # review from the queue: edit one, which opens it with the job's variants and their findings
    page.locator("#queue li").first.get_by_role("button", name="Edit").click()
    expect(page.locator("#variant-0 mark.finding")).to_have_text(re.compile("99小时"))


def test_job_progress_keeps_polling_through_failed_status_answers(open_page, upstream, tmp_path: Path):
    """A 503 (Redis slow, its breaker open) or a dropped connection while polling must not freeze the bar at 0 %:
    the studio asks again, after the server's Retry-After, and says so meanwhile (CI once froze at 0 for 90 s)."""
    page = open_page("/studio")
    failures = {"503": 0, "abort": 0}

    def flaky(route) -> None:
        if route.request.method != "GET":
            route.continue_()
        elif failures["503"] < 2:
            failures["503"] += 1
            route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                          body=json.dumps({"error": {"code": "unavailable", "message": "job backend unavailable"}}))
        elif failures["abort"] < 1:
            failures["abort"] += 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/v1/copy/jobs/[^/?]+$"), flaky)
    page.set_input_files("#upload-file", str(_upload_file(tmp_path, 10, "FLAKY")))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#job-text")).to_contain_text("asking again")
    expect(page.locator("#job-progress")).to_have_attribute("value", "100", timeout=60_000)
    expect(page.locator("#job-state")).to_have_text("completed")
    assert failures == {"503": 2, "abort": 1}


def test_a_job_can_be_cancelled_and_resumed(open_page, upstream, tmp_path: Path):
    upstream.set_latency(0.25)
    page = open_page("/studio")
    page.set_input_files("#upload-file", str(_upload_file(tmp_path, 40, "SLOW")))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#job-state")).to_have_text("running", timeout=30_000)
    page.click("#job-cancel")
    expect(page.locator("#job-state")).to_have_text("cancelled")
    expect(page.locator("#job-resume")).to_be_enabled()
    done = int(re.search(r"(\d+)/40", page.locator("#job-text").inner_text()).group(1))
    assert done < 40
    upstream.set_latency(0)
    page.click("#job-resume")
    expect(page.locator("#job-state")).to_have_text("completed", timeout=60_000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")


def test_a_conflicting_approval_shows_the_conflict(open_page, upstream):
    alice = open_page("/studio", "writer")
    bob = open_page("/studio", "all")
    open_product(alice, "SG-OUT-0004")
    open_product(bob, "SG-OUT-0004")
    alice.locator("#variant-1 button.approve").click()
    expect(alice.locator("#status")).to_contain_text("Approved (version 1)")
    bob.locator("#variant-1 button.approve").click()
    alert = bob.locator("#alert")
    expect(alert).to_contain_text("writer approved this product")
    expect(alert).to_contain_text("reload")
    expect(bob.locator("#history-list li")).to_have_count(1)  # bob now sees alice's decision


def test_an_xss_product_title_renders_as_text(open_page, live: LiveServer, upstream):
    from tests.browser.conftest import XSS_ID, XSS_TITLE

    page = open_page("/studio")
    page.fill("#q", "防风羽绒马甲")
    page.click("#search-form button[type=submit]")
    item = page.locator(f'[data-product="{XSS_ID}"] .open-product')
    expect(item).to_have_text(XSS_TITLE)
    item.click()
    expect(page.locator("#var-product")).to_contain_text("<script>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img[src='x']").count() == 0
    demo = open_page("/demo", "shop")
    demo.fill("#query", "防风羽绒马甲")
    demo.click("#ask button[type=submit]")
    card = demo.locator(f'.card[data-product="{XSS_ID}"] .title')
    expect(card).to_have_text(XSS_TITLE)
    assert demo.evaluate("window.__xss") is None


def test_first_load_of_studio_is_under_150_kb_compressed(chromium, live: LiveServer, upstream):
    """A cold browser (empty cache) with a key: the page, its assets and the first API answers, as sent."""
    from tests.browser.conftest import KEYS

    context = chromium.new_context()
    try:
        context.add_init_script(f"sessionStorage.setItem('sg.key', {json.dumps(KEYS['writer'])})")
        page = context.new_page()
        sizes: list[tuple[str, int, str, int]] = []

        def finished(request) -> None:
            response = request.response()
            size = request.sizes()
            sizes.append((request.url.replace(live.url, ""), size["responseBodySize"] + size["responseHeadersSize"],
                          response.headers.get("content-encoding", "") if response else "", response.status if response else 0))

        page.on("requestfinished", finished)
        page.goto(live.url + "/studio", wait_until="networkidle")
        expect(page.locator("#products li").first).to_be_visible()
        total = sum(s[1] for s in sizes)
        assert all(status == 200 for *_, status in sizes), sizes
        assert all(enc in ("br", "gzip", "zstd") for url, _, enc, _ in sizes if url.split("?")[0].endswith((".js", ".css", "/studio"))), sizes
        assert total <= 150 * 1024, sizes
        print(f"/studio first load: {total} bytes over the wire; {sizes}")
    finally:
        context.close()


def test_job_api_is_scoped_per_key_through_the_live_server(live: LiveServer):
    created = httpx.post(live.url + "/v1/copy/jobs", json={"product_ids": ["SG-OUT-0001"], "variants": 1},
                         headers=bearer("writer"))
    assert created.status_code == 202
    job = created.json()["job_id"]
    assert httpx.get(live.url + f"/v1/copy/jobs/{job}", headers=bearer("all")).status_code == 200
    # a SIGKILLed worker (the restart above) stops counting once its beacon is silent for 10 s
    wait_for(lambda: httpx.get(live.url + "/readyz").json()["jobs"]["workers"] == 1, timeout_s=20, interval_s=0.5)
    assert httpx.get(live.url + "/readyz").json()["jobs"]["backend"] == "rq"
