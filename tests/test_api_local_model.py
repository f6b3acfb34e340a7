"""The real local model (SmolLM2-135M on CPU) behind the API: no hosted provider, and as the fallback (slow)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.app import build_dependencies, create_app
from tests.support.openai_upstream import status

pytestmark = pytest.mark.slow

QUERIES = [
    {"query": "a warm down jacket for winter", "k": 3},
    {"query": "我想买一款适合冬天穿的羽绒服", "k": 3},
]


@pytest.fixture(scope="module")
def local_only(demo_catalog, demo_retriever, index_dir):
    """An app whose only provider is the local model, as `make run` serves it without an API key."""
    from service.settings import load_settings

    settings = load_settings(
        providers="local",
        index_dir=index_dir,
        deadline_s=600,  # a loaded CI box; the point here is validity, bench/local_model.py measures speed
        local_threads=int(os.environ.get("SHOPGUIDE_LOCAL_THREADS") or 1),
        cache_prefix="sgtest-local",
    )
    deps = build_dependencies(settings, catalog=demo_catalog, retriever=demo_retriever)
    deps.chain.providers[0].warm_up()
    yield create_app(settings, deps=deps)
    deps.chain.providers[0].close()


def check(body, catalog, k):
    assert body["provider"] == "local" and not body["degraded"], body
    assert body["model"] == "SmolLM2-135M-Instruct"
    assert len(body["items"]) == k
    llm_items = [i for i in body["items"] if i["source"] == "llm"]
    assert llm_items, "the model picked nothing"
    for item in body["items"]:
        assert catalog.get(item["id"]) is not None and item["reason"].strip()


def test_without_a_hosted_api_the_local_model_answers(local_only, demo_catalog):
    client = local_only.test_client()
    with ThreadPoolExecutor(len(QUERIES)) as pool:  # concurrent: the local provider batches them
        responses = list(pool.map(lambda body: client.post("/v1/recommend", json=body), QUERIES))
    for body, response in zip(QUERIES, responses, strict=True):
        assert response.status_code == 200
        check(response.json, demo_catalog, body["k"])
    assert responses[0].json["prompt_version"] != local_only.extensions["shopguide"].recommend.prompt_version


def test_the_local_model_answers_when_the_upstream_fails(local_only, make_app, upstream, demo_catalog):
    upstream.default(status(500))
    # local_preload off: this app borrows the loaded model below instead of loading a second copy
    app = make_app(providers="openai,local", retries=1, deadline_s=600, local_reserve_s=590, local_preload=False)
    # the same loaded model as the local-only app: swap it in rather than load a second copy
    local = local_only.extensions["shopguide"].chain.links[0]
    chain = app.extensions["shopguide"].chain
    chain.links[1] = local
    body = app.test_client().post("/v1/recommend", json=QUERIES[0]).json
    check(body, demo_catalog, 3)
    assert body["fallback_from"] == ["openai:RetryableProviderError"] and upstream.calls == 2


def test_chinese_copy_from_the_local_model_is_never_empty_and_unmarked(local_only, demo_catalog):
    """Issue 14 item 3: a Chinese product page came back with variants: [] after 27-43 s, not degraded."""
    response = local_only.test_client().post(
        "/v1/copy", json={"product_id": "SG-OUT-0001", "channel": "pdp", "variants": 2}
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["variants"], body  # the model's usable copy, or the facts-based copy
    if body["degraded"]:
        assert body["provider"] is None and body["fallback_from"], body
        assert body["variants"][0]["headline"].startswith("雪域")  # from the product's own data
    else:
        assert body["provider"] == "local"
    for variant in body["variants"]:
        assert not variant["checks"]["compliance_hits"] and not variant["checks"]["language_problems"]
    assert all(r["reasons"] for r in body["rejected"])  # whatever was not used says why
