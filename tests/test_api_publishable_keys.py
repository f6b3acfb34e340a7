"""Issue 14 item 13: publishable keys for storefront pages — recommend only, listed origins only, limited per
client IP as well as per key, with CORS for those origins; through real apps."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from service.ops.auth import hash_key
from service.settings import REPO_ROOT, parse_publishable_keys
from tests.support import small_shop
from tests.support.api_keys import ENTRIES, bearer
from tests.support.scripted_provider import ScriptedProvider

PK = f"pk_test_{uuid.uuid4().hex}"
SHOP = "https://shop.example"
BODY = {"query": "gaming laptop"}


def app(**overrides):  # noqa: ANN201
    values = {
        "api_keys": ENTRIES,
        "publishable_keys": f"storefront:{hash_key(PK)}:{SHOP}|https://www.shop.example",
        "publishable_ip_rate_limit": "3/minute",
        "publishable_rate_limit": "5/minute",
        **overrides,
    }
    return small_shop.app(small_shop.settings(**values), ScriptedProvider())


def page(origin: str = SHOP, ip: str = "203.0.113.7") -> dict[str, object]:
    return {"headers": {"Authorization": f"Bearer {PK}", "Origin": origin}, "environ_base": {"REMOTE_ADDR": ip}}


def test_a_publishable_key_recommends_from_its_origins_only() -> None:
    client = app().test_client()
    ok = client.post("/v1/recommend", json=BODY, **page())
    assert ok.status_code == 200, ok.json
    assert ok.headers["Access-Control-Allow-Origin"] == SHOP
    assert client.post("/v1/recommend", json=BODY, **page("https://www.shop.example")).status_code == 200
    other = client.post("/v1/recommend", json=BODY, **page("https://evil.example"))
    assert other.status_code == 403 and other.json["error"]["code"] == "origin_not_allowed"
    assert other.json["error"]["field"] == "Origin" and "Access-Control-Allow-Origin" not in other.headers
    no_origin = client.post("/v1/recommend", json=BODY, headers={"Authorization": f"Bearer {PK}"})
    assert no_origin.status_code == 403 and "without an Origin header" in no_origin.json["error"]["message"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/copy"), ("GET", "/v1/ops/config"), ("GET", "/metrics")])
def test_a_publishable_key_has_no_other_scope(method: str, path: str) -> None:
    response = app().test_client().open(path, method=method, json={"product_id": "x"}, **page())
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_cors_preflight_for_the_storefront_on_recommend_only() -> None:
    client = app().test_client()
    preflight = {"Origin": SHOP, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Authorization, Content-Type"}
    allowed = client.options("/v1/recommend", headers=preflight)
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in client.options("/v1/copy", headers=preflight).headers


def test_rate_limited_per_client_ip_and_per_key() -> None:
    client = app().test_client()
    statuses = [client.post("/v1/recommend", json=BODY, **page(ip="198.51.100.1")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # 3/minute per address
    limited = client.post("/v1/recommend", json=BODY, **page(ip="198.51.100.1"))
    assert "client address" in limited.json["error"]["message"] and int(limited.headers["Retry-After"]) >= 1
    # other shoppers are not held back by that one (its refused calls spend nothing of the key's budget) ...
    assert client.post("/v1/recommend", json=BODY, **page(ip="198.51.100.2")).status_code == 200
    assert client.post("/v1/recommend", json=BODY, **page(ip="198.51.100.3")).status_code == 200
    # ... until the key's own budget (5/minute, every shopper together) is spent
    spent = client.post("/v1/recommend", json=BODY, **page(ip="198.51.100.4"))
    assert spent.status_code == 429 and "publishable key" in spent.json["error"]["message"]
    # a secret key's own limit is separate
    assert client.post("/v1/recommend", json=BODY, headers=bearer("shop")).status_code == 200


def test_the_client_ip_behind_trusted_proxies() -> None:
    client = app(trusted_proxies=1).test_client()
    for shopper in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"):  # one proxy address, four shoppers
        call = page(ip="10.0.0.1")
        call["headers"] = {**call["headers"], "X-Forwarded-For": f"1.1.1.1, {shopper}"}  # type: ignore[dict-item]
        assert client.post("/v1/recommend", json=BODY, **call).status_code == 200
    # (with the connection's address instead, the four would have shared one 3/minute budget)
    later = [client.post("/v1/recommend", json=BODY, headers={**page()["headers"], "X-Forwarded-For": "192.0.2.9"},
                         environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(2)]
    assert later == [200, 429]  # the key's 5/minute budget


def test_keys_new_publishable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service", "keys", "new", "storefront", "--publishable", "--origins", f"{SHOP},https://m.shop.example"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.split("key:")[1].split()[0]
    entry = done.stdout.split("entry:")[1].split()[0]
    assert key.startswith("pk_")
    (parsed,) = parse_publishable_keys(entry)
    assert parsed.sha256 == hash_key(key) and parsed.origins == (SHOP, "https://m.shop.example")
    refused = subprocess.run(
        [sys.executable, "-m", "service", "keys", "new", "storefront", "--publishable"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
    )
    assert refused.returncode == 2 and "--origins" in refused.stderr
