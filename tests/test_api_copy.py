"""POST /v1/copy and copy jobs through the app factory (in-process jobs: no Redis), over the scripted upstream."""

from __future__ import annotations

import time

import pytest

from service.app import build_dependencies, create_app
from service.catalog.load import Catalog
from service.retrieve.factory import build_retriever
from service.settings import load_settings
from tests.support.copy_products import JACKET_ZH, POWER_BANK
from tests.support.copywriter import write_copy
from tests.support.openai_upstream import reply_fn

CATALOG = Catalog.of([POWER_BANK, JACKET_ZH])


@pytest.fixture(scope="module")
def retriever(index_dir):
    """One index for the module: each new one loads jieba's dictionary again (1-4 s)."""
    return build_retriever(CATALOG, load_settings(index_dir=index_dir))


def make_client(upstream, retriever, **overrides):
    upstream.default(reply_fn(write_copy))
    settings = load_settings(**{
        "openai_base_url": upstream.base_url, "openai_api_key": "sk-test", "providers": "openai", "redis_url": "",
        "copy_job_chunk_size": 2, **overrides,
    })
    deps = build_dependencies(settings, catalog=CATALOG, retriever=retriever)
    app = create_app(settings, deps=deps)
    app.testing = True
    return app.test_client(), deps


@pytest.fixture
def client(upstream, retriever):
    test_client, deps = make_client(upstream, retriever)
    yield test_client
    deps.copy_jobs.close()


def test_extra_banned_terms_from_the_settings_reach_the_copy_checks(upstream, retriever, monkeypatch):
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_EN", "slim")  # in the power bank's title and description
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED", "鹅绒")  # every language: in the jacket's copy
    test_client, deps = make_client(upstream, retriever)
    try:
        english = test_client.post("/v1/copy", json={"product_id": "PB-1", "variants": 1}).json
        assert english["variants"] == [] and english["rejected"][0]["reasons"] == ["compliance: slim"]
        chinese = test_client.post("/v1/copy", json={"product_id": "ZH-1", "variants": 1}).json
        assert chinese["variants"] == [] and chinese["rejected"][0]["reasons"] == ["compliance: 鹅绒"]
        assert english["degraded"] and chinese["degraded"]  # nothing usable; the facts-based copy hits them too
    finally:
        deps.copy_jobs.close()


def test_copy_for_a_catalog_product(client, upstream):
    response = client.post("/v1/copy", json={"product_id": "ZH-1", "channel": "email", "variants": 2})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["product_id"] == "ZH-1" and body["language"] == "zh" and len(body["variants"]) == 2
    assert set(body["variants"][0]) == {"headline", "body", "bullets", "cta", "checks", "regenerated"}
    assert body["checks"]["banned_words_ok"] and body["provider"] == "openai" and body["cached"] is False
    assert body["limits"]["headline_max"] == 60 and body["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["X-Shopguide-Cache"] == "miss"
    again = client.post("/v1/copy", json={"product_id": "ZH-1", "channel": "email", "variants": 2})
    assert again.json["cached"] and again.headers["X-Shopguide-Cache"] == "hit" and upstream.calls == 1


def test_copy_for_an_inline_product(client):
    product = {"title": "Trail Mug", "description": "A 350ml steel mug.", "price": 12.5, "currency": "USD"}
    response = client.post("/v1/copy", json={"product": product, "variants": 1, "channel": "social"})
    assert response.status_code == 200, response.json
    assert response.json["product_id"].startswith("inline-") and response.json["language"] == "en"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"product_id": "nope"}, 404, "product_id"),
        ({"product_id": "PB-1", "variants": 0}, 400, "variants"),
        ({"product_id": "PB-1", "variants": 6}, 400, "variants"),
        ({"product_id": "PB-1", "variants": "2"}, 400, "variants"),
        ({"product_id": "PB-1", "banned_words": "cheap"}, 400, "banned_words"),
        ({"product_id": "PB-1", "banned_words": ["ok", 7]}, 400, "banned_words[1]"),
        ({"product_id": "PB-1", "product": {"title": "x"}}, 400, "product"),
        ({}, 400, "product"),
        ({"product": {"title": "x", "colour": "red"}}, 400, "product.colour"),
        ({"product_id": "PB-1", "channel": "tv"}, 400, "channel"),
        ({"product_id": "PB-1", "length": "short", "max_chars": 50}, 400, "max_chars"),
        ({"product_id": "PB-1", "tone": "  "}, 400, "tone"),
        ({"product_id": "PB-1", "surprise": True}, 400, "surprise"),
    ],
)
def test_bad_requests_name_the_field(client, upstream, body, status, field):
    response = client.post("/v1/copy", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
    assert upstream.calls == 0


def test_openapi_documents_copy_and_jobs(client):
    doc = client.get("/openapi.json").json
    paths = doc["paths"]
    assert "/v1/copy" in paths and "202" in paths["/v1/copy/jobs"]["post"]["responses"]
    assert paths["/v1/copy/jobs/{job_id}"]["get"]["parameters"][0]["name"] == "job_id"
    assert "application/x-ndjson" in paths["/v1/copy/jobs/{job_id}/results"]["get"]["responses"]["200"]["content"]


def wait_completed(client, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/copy/jobs/{job_id}").json
        if status["state"] == "completed":
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not complete: {status}")


def test_in_process_job_lifecycle(client):
    created = client.post("/v1/copy/jobs", json={"product_ids": "all", "variants": 1, "channel": "search_ad"})
    assert created.status_code == 202, created.json
    job = created.json
    assert job["total"] == 2 and job["state"] == "queued" and created.headers["Location"] == job["status_url"]
    status = wait_completed(client, job["job_id"])
    assert status == {**status, "total": 2, "done": 2, "failed": 0, "backend": "thread"}
    assert status["options"]["channel"] == "search_ad"
    lines = client.get(job["results_url"]).get_data(as_text=True).splitlines()
    assert [line.split('"product_id":"')[1].split('"')[0] for line in lines] == ["PB-1", "ZH-1"]
    csv = client.get(job["results_url"] + "?format=csv")
    assert csv.mimetype == "text/csv" and csv.headers["X-Shopguide-Job-State"] == "completed"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("\ufeffproduct_id,status,error,variant,headline")


def test_job_errors(client):
    unknown = client.post("/v1/copy/jobs", json={"product_ids": ["PB-1", "nope"]})
    assert unknown.status_code == 404 and unknown.json["error"]["field"] == "product_ids[1]"
    empty = client.post("/v1/copy/jobs", json={"product_ids": []})
    assert empty.status_code == 400 and empty.json["error"]["field"] == "product_ids"
    bad = client.post("/v1/copy/jobs", json={"product_ids": "some"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "product_ids"
    assert client.get("/v1/copy/jobs/0123abcd").status_code == 404
    assert client.get("/v1/copy/jobs/0123abcd/results").status_code == 404
    job = client.post("/v1/copy/jobs", json={"product_ids": ["PB-1"]}).json
    assert client.get(job["results_url"] + "?format=xml").json["error"]["field"] == "format"
    # let the job finish here: its thread would otherwise call the shared upstream during the next test
    wait_completed(client, job["job_id"])
