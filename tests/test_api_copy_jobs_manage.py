"""Copy jobs as an API (issue 14 item 5, issue 13 item 9): list, cancel, resume, owner-only visibility,
per-key limits, and the live worker count ("waiting for a worker")."""

from __future__ import annotations

import time

import pytest

from tests.support.api_keys import ENTRIES, bearer
from tests.support.copywriter import write_copy
from tests.support.openai_upstream import reply_fn
from tests.support.redis_db import REDIS_URL
from tests.support.waiting import wait_for

IDS = ["SG-OUT-0001", "SG-OUT-0002", "SG-OUT-0003"]
SIX = IDS + ["SG-OUT-0004", "SG-OUT-0005", "SG-OUT-0006"]


@pytest.fixture
def client(make_app, upstream):
    upstream.default(reply_fn(write_copy))
    app = make_app(api_keys=ENTRIES, copy_concurrency=1, copy_job_chunk_size=1)
    yield app.test_client()
    app.extensions["shopguide"].copy_jobs.close()


def create(client, key="writer", ids=IDS, **extra):
    return client.post("/v1/copy/jobs", json={"product_ids": ids, "variants": 1, **extra}, headers=bearer(key))


def status(client, job_id, key="writer"):
    return client.get(f"/v1/copy/jobs/{job_id}", headers=bearer(key))


def test_jobs_are_listed_newest_first_and_paged(client):
    made = [create(client, ids=IDS[:1]).get_json()["job_id"] for _ in range(3)]
    page = client.get("/v1/copy/jobs?limit=2", headers=bearer("writer")).get_json()
    assert [j["job_id"] for j in page["jobs"]] == made[::-1][:2]
    assert page["total"] == 3 and page["next_offset"] == 2
    rest = client.get("/v1/copy/jobs?limit=2&offset=2", headers=bearer("writer")).get_json()
    assert [j["job_id"] for j in rest["jobs"]] == made[:1] and rest["next_offset"] is None
    bad = client.get("/v1/copy/jobs?limit=0", headers=bearer("writer"))
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limit"


def test_a_job_is_visible_only_to_its_key_and_to_ops(client):
    job_id = create(client, "writer").get_json()["job_id"]
    assert status(client, job_id, "writer").status_code == 200
    assert status(client, job_id, "ops").status_code == 403  # the ops key lacks the copy scope...
    assert status(client, job_id, "all").status_code == 200  # ...a key with copy and ops sees every job
    other = client.post("/v1/copy/jobs", json={"product_ids": IDS[:1]}, headers=bearer("all")).get_json()["job_id"]
    assert status(client, other, "writer").status_code == 404
    assert client.get(f"/v1/copy/jobs/{other}/results", headers=bearer("writer")).status_code == 404
    assert client.delete(f"/v1/copy/jobs/{other}", headers=bearer("writer")).status_code == 404
    listed = client.get("/v1/copy/jobs", headers=bearer("writer")).get_json()
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    everyone = client.get("/v1/copy/jobs", headers=bearer("all")).get_json()
    assert {j["job_id"] for j in everyone["jobs"]} == {job_id, other}


def test_cancel_keeps_finished_results_and_resume_writes_the_rest(client, upstream):
    upstream.set_latency(0.3)
    job_id = create(client, ids=SIX).get_json()["job_id"]
    wait_for(lambda: status(client, job_id).get_json()["done"] >= 1, timeout_s=20)
    cancelled = client.delete(f"/v1/copy/jobs/{job_id}", headers=bearer("writer"))
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    time.sleep(1.0)  # a chunk that was running finishes its product; nothing new starts
    after = status(client, job_id).get_json()
    # two chunks run at once: the products in flight finish, the rest never start
    assert after["state"] == "cancelled" and 1 <= after["done"] <= 4 and "resume" in after["message"]
    calls = upstream.calls
    time.sleep(0.8)
    assert upstream.calls == calls  # no upstream calls after the cancel settled
    kept = client.get(f"/v1/copy/jobs/{job_id}/results", headers=bearer("writer")).data.decode().splitlines()
    assert len(kept) == after["done"]
    assert client.delete(f"/v1/copy/jobs/{job_id}", headers=bearer("writer")).status_code == 200  # idempotent
    upstream.set_latency(0)
    resumed = client.post(f"/v1/copy/jobs/{job_id}/resume", headers=bearer("writer"))
    assert resumed.status_code == 202
    wait_for(lambda: status(client, job_id).get_json()["state"] == "completed", timeout_s=20)
    lines = client.get(f"/v1/copy/jobs/{job_id}/results", headers=bearer("writer")).data.decode().splitlines()
    assert len(lines) == 6
    again = client.post(f"/v1/copy/jobs/{job_id}/resume", headers=bearer("writer"))
    assert again.status_code == 409 and "not cancelled" in again.get_json()["error"]["message"]
    done = client.delete(f"/v1/copy/jobs/{job_id}", headers=bearer("writer"))
    assert done.status_code == 409 and "completed" in done.get_json()["error"]["message"]


def test_status_reports_rate_and_eta(client):
    job_id = create(client, ids=IDS).get_json()["job_id"]
    wait_for(lambda: status(client, job_id).get_json()["state"] == "completed", timeout_s=20)
    body = status(client, job_id).get_json()
    assert body["rate_per_s"] > 0 and body["started_at"] >= body["created_at"] and body["workers"] is None
    assert body["waiting_for_worker"] is False and body["message"] is None


def test_per_key_limits_on_unfinished_jobs_and_waiting_products(make_app, upstream):
    upstream.default(reply_fn(write_copy))
    upstream.set_latency(2.0)
    app = make_app(api_keys=ENTRIES, copy_concurrency=1, copy_jobs_per_key=2, copy_job_products_per_key=4)
    client = app.test_client()
    try:
        assert create(client, ids=IDS[:1]).status_code == 202
        too_many = create(client, ids=IDS)  # 1 waiting + 3 asked = 4: at the product limit, allowed
        assert too_many.status_code == 202
        third = create(client, ids=IDS[:1])
        assert third.status_code == 429 and third.get_json()["error"]["code"] == "too_many_jobs"
        assert "SHOPGUIDE_COPY_JOBS_PER_KEY" in third.get_json()["error"]["message"]
        assert create(client, "all", ids=IDS[:1]).status_code == 202  # another key has its own allowance
        first = client.get("/v1/copy/jobs", headers=bearer("writer")).get_json()["jobs"][-1]["job_id"]
        client.delete(f"/v1/copy/jobs/{first}", headers=bearer("writer"))  # a cancelled job no longer counts
        products = create(client, ids=IDS + ["SG-OUT-0004", "SG-OUT-0005"])
        assert products.status_code == 429 and products.get_json()["error"]["field"] == "product_ids"
        assert "SHOPGUIDE_COPY_JOB_PRODUCTS_PER_KEY" in products.get_json()["error"]["message"]
    finally:
        app.extensions["shopguide"].copy_jobs.close()


def test_without_a_worker_the_job_says_it_is_waiting_for_one(make_app, upstream, rq_prefix, tmp_path):
    from service.catalog.load import demo_catalog_path
    from tests.test_jobs_rq import start_worker, stop, wait_ready

    upstream.default(reply_fn(write_copy))
    catalog_path = demo_catalog_path()
    app = make_app(redis_url=REDIS_URL)
    client = app.test_client()
    job_id = client.post("/v1/copy/jobs", json={"product_ids": IDS, "variants": 1}).get_json()["job_id"]
    body = client.get(f"/v1/copy/jobs/{job_id}").get_json()
    assert body["state"] == "queued" and body["workers"] == 0 and body["waiting_for_worker"] is True
    assert body["message"].startswith("waiting for a worker")
    ready = client.get("/readyz").get_json()
    assert ready["jobs"]["backend"] == "rq" and ready["jobs"]["workers"] == 0
    assert ready["jobs"]["waiting_for_worker"] is True and ready["jobs"]["queued_chunks"] >= 1
    worker = start_worker(upstream, catalog_path, rq_prefix, "w1")
    try:
        wait_ready(worker)
        wait_for(lambda: client.get(f"/v1/copy/jobs/{job_id}").get_json()["state"] == "completed", timeout_s=60)
        done = client.get(f"/v1/copy/jobs/{job_id}").get_json()
        assert done["workers"] == 1 and done["waiting_for_worker"] is False
        assert client.get("/readyz").get_json()["jobs"]["workers"] == 1
    finally:
        stop(worker)


def test_cancel_drops_queued_rq_chunks(make_app, upstream, rq_prefix):
    app = make_app(redis_url=REDIS_URL, copy_job_chunk_size=1)
    client = app.test_client()
    job_id = client.post("/v1/copy/jobs", json={"product_ids": IDS}).get_json()["job_id"]
    jobs = app.extensions["shopguide"].copy_jobs
    assert jobs.describe()["queued_chunks"] == 3
    assert client.delete(f"/v1/copy/jobs/{job_id}").get_json()["state"] == "cancelled"
    assert jobs.describe()["queued_chunks"] == 0
    resumed = client.post(f"/v1/copy/jobs/{job_id}/resume")
    assert resumed.status_code == 202 and resumed.get_json()["state"] == "queued"
    assert jobs.describe()["queued_chunks"] == 3
