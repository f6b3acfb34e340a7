"""The studio's JSON API: search, checks on the sentence, reviews with override and conflicts, history, export, uploads."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from service.studio.export import SHOPIFY_COLUMNS
from tests.support.api_keys import ENTRIES, bearer
from tests.support.openai_upstream import reply_fn
from tests.support.studio_copy import CLAIM, CLAIM_EN, CLAIM_SENTENCE, shop_model
from tests.support.waiting import wait_for

PRODUCT = "SG-OUT-0001"


@pytest.fixture
def app(make_app, upstream):
    upstream.default(reply_fn(shop_model))
    app = make_app(api_keys=ENTRIES)
    yield app
    app.extensions["shopguide"].copy_jobs.close()


@pytest.fixture
def client(app):
    return app.test_client()


def writer(client, method, path, **kw):
    return client.open(path, method=method, headers=bearer("writer"), **kw)


def test_products_search_in_chinese_and_english_with_filters(client):
    zh = writer(client, "GET", "/v1/studio/products?q=羽绒服").get_json()
    assert zh["products"] and all("羽绒" in p["title"] or "Down" in p["category"] for p in zh["products"][:3])
    assert "Clothing/Outerwear/Down" in zh["categories"] and zh["brands"]
    listed = writer(client, "GET", "/v1/studio/products?category=Clothing/Outerwear&limit=5").get_json()
    assert listed["total"] >= 5 and all(p["category"].startswith("Clothing/Outerwear") for p in listed["products"])
    assert all(p["review"] is None for p in listed["products"])
    assert client.get("/v1/studio/products").status_code == 401
    assert client.get("/v1/studio/products", headers=bearer("shop")).status_code == 403


def test_generated_copy_findings_sit_on_their_sentence(client):
    answer = writer(client, "POST", "/v1/copy", json={"product_id": PRODUCT, "variants": 2}).get_json()
    variant = answer["variants"][0]
    assert CLAIM_SENTENCE in variant["body"] and CLAIM in variant["checks"]["unsupported_claims"]
    texts = [{k: v[k] for k in ("headline", "body", "bullets", "cta")} for v in answer["variants"]]
    checked = writer(client, "POST", "/v1/studio/check", json={"product_id": PRODUCT, "variants": texts}).get_json()
    first, second = checked["results"]
    assert not first["ok"] and second["ok"]
    [finding] = first["findings"]
    assert finding["kind"] == "unsupported_claim" and finding["text"] == CLAIM
    assert finding["field"] == "body" and finding["sentence"] == CLAIM_SENTENCE
    assert variant["body"][finding["start"] : finding["end"]] == CLAIM_SENTENCE
    assert "does not back" in finding["why"]["en"] and finding["why"]["zh"]
    edited = dict(texts[0], body=texts[0]["body"].replace(CLAIM_SENTENCE, ""))
    assert writer(client, "POST", "/v1/studio/check", json={"product_id": PRODUCT, "variants": [edited]}).get_json()[
        "results"][0]["ok"]


def test_banned_and_compliance_findings_name_the_sentence(client):
    text = {"headline": "雪域羽绒服", "body": "面料防泼水。这是全网最低价的羽绒服！", "bullets": ["便宜好穿"], "cta": "立即购买"}
    body = {"product_id": PRODUCT, "variants": [text], "options": {"banned_words": ["便宜"]}}
    [result] = writer(client, "POST", "/v1/studio/check", json=body).get_json()["results"]
    kinds = {f["kind"]: f for f in result["findings"]}
    assert kinds["compliance"]["sentence"] == "这是全网最低价的羽绒服！" and kinds["compliance"]["field"] == "body"
    assert kinds["banned"]["field"] == "bullets.0"


def review(client, key="writer", **extra):
    body = {
        "product_id": PRODUCT,
        "decision": "approved",
        "variant": {"headline": "雪域羽绒服", "body": "90%白鹅绒填充。", "bullets": ["过膝长款", "可拆毛领", "防泼水"], "cta": "立即购买"},
        "base_version": 0,
        "source": {"provider": "openai", "model": "gpt-4o-mini", "prompt_version": "p1"},
    }
    body.update(extra)
    return client.post("/v1/studio/reviews", json=body, headers=bearer(key))


def test_approving_a_variant_with_findings_needs_a_recorded_override(client):
    claim = {"headline": "雪域羽绒服", "body": CLAIM_SENTENCE, "bullets": ["过膝长款", "可拆毛领", "防泼水"], "cta": "立即购买"}
    refused = review(client, variant=claim)
    assert refused.status_code == 409 and refused.get_json()["error"]["field"] == "override"
    assert CLAIM in refused.get_json()["error"]["message"]
    no_reason = review(client, variant=claim, override=True)
    assert no_reason.status_code == 409 and no_reason.get_json()["error"]["field"] == "override_reason"
    ok = review(client, variant=claim, override=True, override_reason="supplier sheet says 99 h", edited=True)
    assert ok.status_code == 201
    version = ok.get_json()["version"]
    assert version["override"] and version["override_reason"] == "supplier sheet says 99 h"
    assert version["findings"][0]["text"] == CLAIM and version["decided_by"] == "writer" and version["edited"]


def test_a_stale_approval_is_a_409_conflict(client):
    assert review(client).status_code == 201
    stale = review(client, "all")
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "conflict" and "writer approved this product" in error["message"]
    assert review(client, "all", base_version=1, decision="rejected").status_code == 201
    history = writer(client, "GET", f"/v1/studio/products/{PRODUCT}/history").get_json()
    assert [v["decided_by"] for v in history["versions"]] == ["all", "writer"]
    assert history["entry"]["status"] == "rejected" and history["entry"]["row_version"] == 2


@pytest.mark.parametrize("product_id", ["4\n\x0bv", "handle/with/slashes", "雪域 羽绒服"])
def test_history_routes_any_product_id(client, product_id):
    """Werkzeug's path converter stops at a line break: such an id was an undocumented 404 (the fuzz test found it)."""
    from urllib.parse import quote

    response = writer(client, "GET", f"/v1/studio/products/{quote(product_id)}/history")
    assert response.status_code == 200
    assert response.get_json() == {"product_id": product_id, "entry": None, "versions": []}


def test_an_empty_limit_and_a_too_large_base_version_are_400s_naming_the_field(client):
    """Found by the fuzz test: ``limit=`` was silently the default, a 20-digit base_version a 500 from SQLite."""
    empty = writer(client, "GET", "/v1/studio/products?limit=")
    assert empty.status_code == 400 and empty.get_json()["error"]["field"] == "limit"
    huge = review(client, base_version=39934606577467523072)
    assert huge.status_code == 400 and huge.get_json()["error"]["field"] == "base_version"


def test_export_is_shopify_csv_and_full_jsonl(client):
    review(client, variant={"headline": "<b>雪域</b> 羽绒服", "body": "90%白鹅绒填充。", "bullets": ["过膝", "连帽", "防泼水"], "cta": "买"})
    response = writer(client, "GET", "/v1/studio/export/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(rows[0]) == SHOPIFY_COLUMNS
    assert rows[0]["Handle"] == PRODUCT and rows[0]["Title"].startswith("雪域")
    assert rows[0]["Body (HTML)"] == "<p>90%白鹅绒填充。</p><ul><li>过膝</li><li>连帽</li><li>防泼水</li></ul>"
    assert rows[0]["SEO Title"] == "<b>雪域</b> 羽绒服"  # a plain-text column: kept as written
    jsonl = [json.loads(line) for line in writer(client, "GET", "/v1/studio/export/jsonl").data.splitlines()]
    assert jsonl[0]["product_id"] == PRODUCT and jsonl[0]["provider"] == "openai" and jsonl[0]["bullets"] == ["过膝", "连帽", "防泼水"]
    assert writer(client, "GET", "/v1/studio/export/csv?format=xml").get_json()["error"]["field"] == "format"


def test_upload_starts_a_job_of_the_uploaded_products(client):
    rows = [{"id": f"UP-{i}", "title": f"Travel mug {i}", "description": "Keeps drinks hot for 6 hours.", "price": 20 + i}
            for i in range(5)]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    created = client.post(
        "/v1/studio/uploads",
        data={"file": (io.BytesIO(data), "mugs.jsonl"), "options": json.dumps({"variants": 1, "language": "en"})},
        headers=bearer("writer"),
        content_type="multipart/form-data",
    )
    assert created.status_code == 202, created.get_json()
    job_id = created.get_json()["job_id"]
    wait_for(lambda: writer(client, "GET", f"/v1/copy/jobs/{job_id}").get_json()["state"] == "completed", timeout_s=30)
    queue = writer(client, "GET", f"/v1/studio/queue/{job_id}").get_json()
    assert [i["product_id"] for i in queue["items"]] == [f"UP-{i}" for i in range(5)]
    assert queue["items"][0]["title"] == "Travel mug 0" and queue["items"][0]["variants"], queue["items"][0]
    # an uploaded product is reviewed against its uploaded data: the scripted claim is found there too
    v = queue["items"][0]["variants"][0]
    assert [f["text"] for f in v["findings"]] == [CLAIM_EN]
    body = {"product_id": "UP-0", "decision": "approved", "base_version": 0, "override": True, "override_reason": "ok",
            "variant": {k: v[k] for k in ("headline", "body", "bullets", "cta")}, "source": {"job_id": job_id}}
    assert client.post("/v1/studio/reviews", json=body, headers=bearer("writer")).status_code == 201
    assert writer(client, "GET", f"/v1/studio/queue/{job_id}").get_json()["items"][0]["review"]["status"] == "approved"
    assert client.get(f"/v1/studio/queue/{job_id}", headers=bearer("all")).status_code == 200
    bad = client.post("/v1/studio/uploads", data={"file": (io.BytesIO(b"x"), "a.txt")}, headers=bearer("writer"),
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "file"


def test_ops_state_is_ops_only_and_masks_secrets(client):
    assert client.get("/v1/ops/state", headers=bearer("writer")).status_code == 403
    state = client.get("/v1/ops/state", headers=bearer("ops")).get_json()["state"]
    assert state["catalog"]["products"] == 323 and state["providers"][0]["name"] == "openai"
    assert state["database"]["backend"] == "sqlite" and state["jobs"]["backend"] == "thread"
    assert "sk-test-0123456789" not in json.dumps(state)
    time.sleep(0.6)
    client.get("/healthz")
    rates = client.get("/v1/ops/state", headers=bearer("ops")).get_json()["state"]["rates"]
    assert rates["per_minute"]["requests"] > 0


def test_pages_are_public_shells_with_a_strict_csp(client):
    for page in ("/studio", "/demo", "/ops"):
        response = client.get(page)
        assert response.status_code == 200 and "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert b'id="key-form"' in response.data and b"hidden" not in response.data.split(b'id="key-form"')[1][:20]
    assert client.get("/ui/static/studio.js").status_code == 200
    assert client.get("/ui/static/../app.py").status_code == 404
