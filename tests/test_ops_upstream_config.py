"""Changing the environment changes what the upstream receives: base URL, model, per-endpoint model, key."""

from __future__ import annotations

import uuid

import pytest

from service.settings import load_settings
from tests.support import small_shop
from tests.support.openai_upstream import OpenAIUpstream, reply_fn
from tests.support.picks import pick_first_k


def ask(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict:
    for name in ("SHOPGUIDE_MODEL", "SHOPGUIDE_RECOMMEND_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "openai")
    monkeypatch.setenv("SHOPGUIDE_CACHE_PREFIX", f"t{uuid.uuid4().hex[:12]}")
    client = small_shop.app(load_settings()).test_client()  # the chain is built from the environment
    response = client.post("/v1/recommend", json={"query": "gaming laptop"})
    assert response.status_code == 200
    assert response.json["items"] and all(i["source"] == "llm" for i in response.json["items"])  # the model's picks
    return response.json


def test_model_and_base_url_reach_the_upstream(monkeypatch: pytest.MonkeyPatch, upstream: OpenAIUpstream) -> None:
    key = "sk-test-" + uuid.uuid4().hex
    with OpenAIUpstream(default=reply_fn(pick_first_k)) as second:
        first = upstream.default(reply_fn(pick_first_k))
        answer = ask(monkeypatch, {"OPENAI_BASE_URL": first.base_url, "SHOPGUIDE_MODEL": "model-a", "OPENAI_API_KEY": key})
        assert [(r.path, r.model) for r in first.requests] == [("/v1/chat/completions", "model-a")]
        assert first.requests[0].authorization == f"Bearer {key}"
        assert answer["provider"] == "openai" and answer["model"] == "model-a"

        ask(monkeypatch, {"OPENAI_BASE_URL": second.base_url, "SHOPGUIDE_MODEL": "model-b"})
        assert len(first.requests) == 1  # the old upstream got nothing more
        assert [(r.path, r.model) for r in second.requests] == [("/v1/chat/completions", "model-b")]

        answer = ask(monkeypatch, {"OPENAI_BASE_URL": second.base_url, "SHOPGUIDE_MODEL": "model-b",
                                   "SHOPGUIDE_RECOMMEND_MODEL": "recommend-model"})
        assert second.requests[-1].model == "recommend-model"
        assert answer["model"] == "recommend-model"


def test_base_url_with_a_path_prefix(monkeypatch: pytest.MonkeyPatch, upstream: OpenAIUpstream) -> None:
    """Gateways mount the API under a prefix; the SDK appends /chat/completions to the base URL as given."""
    upstream.default(reply_fn(pick_first_k))
    ask(monkeypatch, {"OPENAI_BASE_URL": upstream.base_url.replace("/v1", "/gateway/openai/v1")})
    assert upstream.requests[0].path == "/gateway/openai/v1/chat/completions"


def test_readyz_masks_credentials_in_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    password = uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://gateway:{password}@llm.example/v1?api-key={password[::-1]}")
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "openai")
    body = small_shop.app(load_settings()).test_client().get("/readyz").get_data(as_text=True)
    assert password not in body and password[::-1] not in body
    assert "gateway:****@llm.example" in body
