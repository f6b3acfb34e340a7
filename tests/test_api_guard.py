"""service/api/guard.py: scopes declared on routes, the 401/403/200 matrix, rate limits per key and scope, CORS,
the body size limit, and the OpenAPI security scheme, through real apps."""

from __future__ import annotations

import time

import pytest
import redis

from service.api.guard import route_scopes
from service.api.health import ENDPOINTS as HEALTH
from service.api.openapi import Endpoint
from service.api.ops import ENDPOINTS as OPS
from service.api.recommend import ENDPOINTS as RECOMMEND
from tests.support import small_shop
from tests.support.api_keys import ENTRIES, KEYS, SCOPES, bearer
from tests.support.redis_db import DOWN_REDIS_URL, REDIS_URL
from tests.support.scripted_provider import ScriptedProvider

BODY = {"query": "gaming laptop"}


def keyed_app(**overrides):  # noqa: ANN201
    settings = small_shop.settings(api_keys=ENTRIES, **overrides)
    return small_shop.app(settings, ScriptedProvider())


# -- the 401 / 403 / 200 matrix -----------------------------------------------------------------
ROUTES = [
    ("POST", "/v1/recommend", "recommend"),
    ("GET", "/metrics", "ops"),
    ("GET", "/v1/ops/config", "ops"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize("who", ["none", "bad", "shop", "writer", "ops", "all"])
def test_scope_matrix(method: str, path: str, scope: str, who: str) -> None:
    client = keyed_app().test_client()
    headers = {} if who == "none" else {"Authorization": "Bearer sg_wrong"} if who == "bad" else bearer(who)
    response = client.open(path, method=method, json=BODY if method == "POST" else None, headers=headers)
    if who in ("none", "bad"):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json["error"]["code"] == "unauthorized"
        if who == "bad":
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    elif scope in SCOPES[who].split("+"):
        assert response.status_code == 200, response.data
    else:
        assert response.status_code == 403
        assert response.json["error"]["code"] == "forbidden"
        assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "bearer " + "x" * 300, "Token abc"])
def test_malformed_authorization_is_401(header: str) -> None:
    response = keyed_app().test_client().post("/v1/recommend", json=BODY, headers={"Authorization": header})
    assert response.status_code == 401


def test_scheme_name_is_case_insensitive() -> None:
    client = keyed_app().test_client()
    assert client.post("/v1/recommend", json=BODY, headers={"Authorization": "bearer " + KEYS["shop"]}).status_code == 200


def test_auth_runs_before_the_body_is_read() -> None:
    client = keyed_app().test_client()
    response = client.post("/v1/recommend", data="not json", content_type="text/plain")
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/docs/static/swagger-ui.css"])
def test_probes_and_docs_stay_open(path: str) -> None:
    assert keyed_app().test_client().get(path).status_code == 200


def test_readyz_tells_the_auth_mode() -> None:
    assert keyed_app().test_client().get("/readyz").json["auth"] == "keys"
    open_app = small_shop.app(small_shop.settings(), ScriptedProvider())
    client = open_app.test_client()
    assert client.get("/readyz").json["auth"] == "open"
    assert client.post("/v1/recommend", json=BODY).status_code == 200  # open mode: no key needed
    assert client.get("/metrics").status_code == 200


def test_unknown_route_is_404_without_a_key() -> None:
    assert keyed_app().test_client().get("/nope").status_code == 404


# -- declarations -------------------------------------------------------------------------------
def test_every_route_is_declared() -> None:
    """A route without an Endpoint record would fall back to the ops scope; none may exist."""
    app = keyed_app()
    _, undeclared = route_scopes(app, app.extensions["shopguide_endpoints"])
    assert undeclared == []


def test_scope_defaults_to_the_tag_and_must_be_known() -> None:
    assert Endpoint("POST", "/v1/copy", "copy", "copy", None).scope == "copy"
    assert Endpoint("GET", "/x", "x", "ops", None, scope=None).scope is None
    with pytest.raises(ValueError):
        Endpoint("POST", "/v1/jobs", "jobs", "jobs", None)


def test_undeclared_route_requires_ops() -> None:
    app = keyed_app()
    # A route added without an Endpoint record: closed to everyone but ops.
    app.add_url_rule("/v1/secret", "secret", lambda: "ok")
    scopes, undeclared = route_scopes(app, HEALTH + RECOMMEND + OPS)
    assert "GET /v1/secret" in undeclared and scopes[("/v1/secret", "GET")] == "ops"


def test_openapi_documents_the_security_scheme() -> None:
    doc = keyed_app().test_client().get("/openapi.json").json
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    post = doc["paths"]["/v1/recommend"]["post"]
    assert post["security"] == [{"apiKey": ["recommend"]}]
    assert {"401", "403", "429"} <= set(post["responses"])
    assert doc["paths"]["/metrics"]["get"]["security"] == [{"apiKey": ["ops"]}]
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert "/docs/static/{name}" not in doc["paths"]


# -- rate limits --------------------------------------------------------------------------------
def _exhaust(client, headers: dict[str, str], limit: int):  # noqa: ANN001, ANN202
    for i in range(limit):
        ok = client.post("/v1/recommend", json=BODY, headers=headers)
        assert ok.status_code == 200, (i, ok.data)
    return client.post("/v1/recommend", json=BODY, headers=headers)


def test_rate_limit_per_key_in_memory() -> None:
    client = keyed_app(rate_limit="3/minute").test_client()
    refused = _exhaust(client, bearer("shop"), 3)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another key has its own budget.
    assert client.post("/v1/recommend", json=BODY, headers=bearer("all")).status_code == 200
    # Probes are never limited.
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    metrics = client.get("/metrics", headers=bearer("ops")).get_data(as_text=True)
    assert 'shopguide_rate_limited_total{scope="recommend"} 1.0' in metrics


def test_rate_limit_per_scope_override() -> None:
    client = keyed_app(rate_limit="100/minute", rate_limit_scopes='{"ops": "2/minute"}').test_client()
    for _ in range(2):
        assert client.get("/v1/ops/config", headers=bearer("ops")).status_code == 200
    assert client.get("/v1/ops/config", headers=bearer("ops")).status_code == 429
    assert client.post("/v1/recommend", json=BODY, headers=bearer("all")).status_code == 200


def test_rate_limit_off() -> None:
    client = keyed_app(rate_limit="off").test_client()
    assert client.application.extensions["shopguide_guard"].limiter is None
    assert all(client.post("/v1/recommend", json=BODY, headers=bearer("shop")).status_code == 200 for _ in range(5))


def test_rate_limit_shared_across_apps_through_redis(redis_prefix: str) -> None:
    """Two app instances (as two workers or pods would be) share one budget in Redis."""
    settings = small_shop.settings(api_keys=ENTRIES, rate_limit="4/minute", redis_url=REDIS_URL, cache_prefix=redis_prefix)
    first = small_shop.app(settings, ScriptedProvider()).test_client()
    second = small_shop.app(settings, ScriptedProvider()).test_client()
    for client in (first, second, first, second):
        assert client.post("/v1/recommend", json=BODY, headers=bearer("shop")).status_code == 200
    refused = second.post("/v1/recommend", json=BODY, headers=bearer("shop"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert redis.Redis.from_url(REDIS_URL).keys(f"*{redis_prefix}*")  # the budget did live in Redis


def test_rate_limit_survives_redis_outage() -> None:
    """An unreachable Redis must not fail requests: the limiter falls back to memory."""
    settings = small_shop.settings(api_keys=ENTRIES, rate_limit="100/minute", redis_url=DOWN_REDIS_URL)
    client = small_shop.app(settings, ScriptedProvider()).test_client()
    started = time.monotonic()
    assert client.post("/v1/recommend", json=BODY, headers=bearer("shop")).status_code == 200
    assert client.post("/v1/recommend", json=BODY, headers=bearer("shop")).status_code == 200
    assert time.monotonic() - started < 10


# -- CORS and body size --------------------------------------------------------------------------
def test_cors_allows_only_the_configured_origin() -> None:
    client = keyed_app(cors_origins="https://shop.example").test_client()
    preflight = client.options(
        "/v1/recommend",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Authorization, Content-Type"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    actual = client.post("/v1/recommend", json=BODY, headers={**bearer("shop"), "Origin": "https://shop.example"})
    assert actual.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Shopguide-Provider" in actual.headers["Access-Control-Expose-Headers"]
    other = client.post("/v1/recommend", json=BODY, headers={**bearer("shop"), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_cors_by_default() -> None:
    response = keyed_app().test_client().post(
        "/v1/recommend", json=BODY, headers={**bearer("shop"), "Origin": "https://shop.example"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_body_size_limit() -> None:
    client = keyed_app(max_body_bytes=2048).test_client()
    big = {"query": "x" * 1500, "user": {"profile": "y" * 1000}}
    response = client.post("/v1/recommend", json=big, headers=bearer("shop"))
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_open_mode_has_no_rate_limit() -> None:
    client = small_shop.app(small_shop.settings(rate_limit="2/minute"), ScriptedProvider()).test_client()
    assert all(client.post("/v1/recommend", json=BODY).status_code == 200 for _ in range(5))
