"""Answer caching and single-flight through the API, on the real Redis."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from service.catalog.load import Catalog
from service.settings import REPO_ROOT
from tests.support.openai_upstream import reply_fn
from tests.support.picks import pick_first_k
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL

BODY = {"query": "down jacket", "k": 3}


def ask(app, body=BODY):
    response = app.test_client().post("/v1/recommend", json=body)
    assert response.status_code == 200, response.json
    return response


@pytest.fixture
def picks(upstream):
    upstream.default(reply_fn(pick_first_k))
    return upstream


def test_miss_then_hit(make_app, picks):
    app = make_app(redis_url=REDIS_URL)
    first, second = ask(app), ask(app)
    assert first.json["cached"] is False and second.json["cached"] is True
    assert second.headers["X-Shopguide-Cache"] == "hit" and first.headers["X-Shopguide-Cache"] == "miss"
    assert second.json["items"] == first.json["items"]
    assert second.json["request_id"] != first.json["request_id"]
    assert second.json["timings_ms"]["llm"] == 0
    assert picks.calls == 1


def test_hits_are_shared_across_app_instances(make_app, picks):
    first = make_app(redis_url=REDIS_URL)
    ask(first)
    first.extensions["shopguide"].cache.flush()  # its write may follow the response (a worker elsewhere would wait)
    assert ask(make_app(redis_url=REDIS_URL)).json["cached"] is True
    assert picks.calls == 1


def test_normalized_query_shares_the_entry(make_app, picks):
    app = make_app(redis_url=REDIS_URL)
    ask(app, {"query": "Down Jacket", "k": 3})
    assert ask(app, {"query": "  down\u3000JACKET ", "k": 3}).json["cached"] is True
    assert picks.calls == 1


def test_ttl(make_app, picks):
    app = make_app(redis_url=REDIS_URL, cache_ttl_s=1)
    ask(app)
    assert ask(app).json["cached"] is True
    time.sleep(1.2)
    assert ask(app).json["cached"] is False
    assert picks.calls == 2


@pytest.mark.parametrize(
    ("body", "settings"),
    [
        ({**BODY, "k": 4}, {}),
        ({**BODY, "filters": {"price_max": 500}}, {}),
        ({**BODY, "filters": {"in_stock": False}}, {}),
        ({**BODY, "language": "zh"}, {}),
        ({**BODY, "user": {"profile": "prefers black"}}, {}),
        ({"query": "down jackets", "k": 3}, {}),
        (BODY, {"model": "another-model"}),
        (BODY, {"recommend_model": "fast-model"}),
        (BODY, {"temperature": 0.9}),
        (BODY, {"max_tokens": 500}),
        (BODY, {"response_format": "json_object"}),
        (BODY, {"candidates": 10}),
    ],
)
def test_every_answer_shaping_input_changes_the_key(make_app, picks, body, settings):
    ask(make_app(redis_url=REDIS_URL))
    response = ask(make_app(redis_url=REDIS_URL, **settings), body)
    assert response.json["cached"] is False
    assert picks.calls == 2


def test_prompt_version_changes_the_key(make_app, picks, tmp_path):
    ask(make_app(redis_url=REDIS_URL))
    prompts = tmp_path / "prompts"
    shutil.copytree(REPO_ROOT / "prompts", prompts)
    system = prompts / "recommend" / "system.j2"
    system.write_text(system.read_text() + "\nBe concise.\n")
    response = ask(make_app(redis_url=REDIS_URL, prompts_dir=prompts))
    assert response.json["cached"] is False and response.json["prompt_version"] != ask(make_app(redis_url=REDIS_URL)).json["prompt_version"]


def test_catalog_version_changes_the_key(make_app, picks, demo_catalog, demo_retriever):
    from service.app import build_dependencies, create_app

    ask(make_app(redis_url=REDIS_URL))
    app = make_app(redis_url=REDIS_URL)
    settings = app.extensions["shopguide"].settings
    changed = Catalog.of(list(demo_catalog.products[:-1]))  # same products the query finds, another version
    deps = build_dependencies(settings, catalog=changed, retriever=demo_retriever)
    assert ask(create_app(settings, deps=deps)).json["cached"] is False
    assert picks.calls == 2


@pytest.mark.parametrize("redis_url", [None, REDIS_URL])
def test_concurrent_identical_requests_make_one_upstream_call(make_app, picks, redis_url):
    picks.set_latency(0.4)
    app = make_app(redis_url=redis_url)
    barrier = threading.Barrier(8)
    results = []

    def go():
        barrier.wait()
        results.append(ask(app).json)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert picks.calls == 1
    assert len({tuple(i["id"] for i in r["items"]) for r in results}) == 1


def test_redis_down_still_answers(make_app, picks):
    app = make_app(redis_url=DOWN_REDIS_URL)
    first, second = ask(app), ask(app)
    assert first.json["provider"] == "openai" and second.json["cached"] is False
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json["cache"]["ok"] is False and ready.json["cache"]["backend"] == "redis"


def test_in_process_cache_without_redis(make_app, picks):
    app = make_app(redis_url=None)
    ask(app)
    assert ask(app).json["cached"] is True
    assert app.test_client().get("/readyz").json["cache"]["backend"] == "memory"


def test_degraded_answers_are_not_cached(make_app, upstream):
    from tests.support.openai_upstream import status

    upstream.default(status(500))
    app = make_app(redis_url=REDIS_URL, retries=0)
    assert ask(app).json["degraded"] is True
    upstream.default(reply_fn(pick_first_k))
    recovered = ask(app).json
    assert recovered["degraded"] is False and recovered["cached"] is False


class CountingRetriever:
    """The shared demo retriever, counting what it is asked."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def search(self, query, filters, n, **kwargs):
        self.calls.append((query, filters.model_dump_json()))
        return self.inner.search(query, filters, n, **kwargs)


@pytest.mark.parametrize("memo", [4096, 0])
def test_retrieval_memo_skips_understanding_and_retrieval_for_a_repeated_query(
    make_settings, demo_catalog, demo_retriever, picks, memo
):
    from service.app import build_dependencies, create_app

    settings = make_settings(retrieval_memo=memo)
    counting = CountingRetriever(demo_retriever)
    app = create_app(settings, deps=build_dependencies(settings, catalog=demo_catalog, retriever=counting))
    body = {"query": "down jacket under $300", "k": 3}
    first, again = ask(app, body), ask(app, body)
    assert again.json["cached"] is True and again.json["items"] == first.json["items"]
    assert again.json["understood"] == first.json["understood"] and first.json["understood"]["price_max"] == 300
    assert len(counting.calls) == (1 if memo else 2)
    # Explicit filters are part of the memo's key, even when their values equal the defaults.
    explicit = ask(app, {**body, "filters": {"in_stock": True}})
    assert explicit.json["cached"] is True  # same candidates, same answer
    cheaper = ask(app, {**body, "filters": {"price_max": 150}})
    assert all(item["price"] <= 150 for item in cheaper.json["items"])
    assert len(counting.calls) == (3 if memo else 4)
    assert counting.calls[-1] != counting.calls[0]
