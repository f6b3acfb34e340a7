"""service/ops/access_log.py: one JSON line per request with its facts; no API key, no shopper text unless
opted in; probes only at DEBUG."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests.support import small_shop
from tests.support.openai_upstream import OpenAIUpstream, reply_fn
from tests.support.picks import pick_first_k
from tests.support.scripted_provider import ScriptedProvider

API_KEY = "sk-" + uuid.uuid4().hex + uuid.uuid4().hex


def access_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "shopguide.access"]


def test_one_json_line_per_request_with_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    # the model the provider answers with: SHOPGUIDE_MODEL names the openai server's, not a stand-in's
    client = small_shop.app(small_shop.settings(), ScriptedProvider(tokens=(90, 10), model="gpt-4o-mini")).test_client()
    capsys.readouterr()
    first = client.post("/v1/recommend", json={"query": "gaming laptop"})
    second = client.post("/v1/recommend", json={"query": "gaming laptop"})
    lines = access_lines(capsys.readouterr().err)
    assert len(lines) == 2
    miss, hit = lines
    assert miss["request_id"] == first.headers["X-Request-ID"] and hit["request_id"] == second.headers["X-Request-ID"]
    assert miss["endpoint"] == "/v1/recommend" and miss["status"] == 200 and miss["method"] == "POST"
    assert miss["provider"] == "fake" and miss["model"] == "gpt-4o-mini"
    assert miss["cached"] is False and hit["cached"] is True
    assert miss["degraded"] is False
    assert (miss["tokens_in"], miss["tokens_out"]) == (90, 10) and (hit["tokens_in"], hit["tokens_out"]) == (0, 0)
    assert miss["latency_ms"] > 0 and miss["level"] == "INFO"


def test_no_api_key_and_no_shopper_text_by_default(capsys: pytest.CaptureFixture[str], upstream: OpenAIUpstream) -> None:
    marker = f"羽绒服 secret-wish-{uuid.uuid4().hex[:8]}"
    upstream.default(reply_fn(pick_first_k))
    # DEBUG on purpose: the noisiest setting must still leak nothing.
    settings = small_shop.settings(
        openai_base_url=upstream.base_url, openai_api_key=API_KEY, providers="openai", log_level="DEBUG"
    )
    client = small_shop.app(settings).test_client()
    capsys.readouterr()
    response = client.post("/v1/recommend", json={"query": f"down jacket {marker}"})
    assert response.status_code == 200 and response.json["provider"] == "openai"
    assert response.json["items"] and all(i["source"] == "llm" for i in response.json["items"])
    assert upstream.requests[0].authorization == f"Bearer {API_KEY}"  # the key did go upstream
    logging.getLogger("openai").debug("request headers: Authorization: Bearer %s", API_KEY)
    err = capsys.readouterr().err
    assert API_KEY not in err and API_KEY[3:20] not in err
    assert marker not in err
    (line,) = access_lines(err)
    assert line["query_chars"] == len(f"down jacket {marker}")
    assert len(line["query_sha256"]) == 16 and "query" not in line


def test_log_prompts_opt_in(capsys: pytest.CaptureFixture[str]) -> None:
    client = small_shop.app(small_shop.settings(log_prompts=True), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.post("/v1/recommend", json={"query": "gaming laptop 推荐"})
    (line,) = access_lines(capsys.readouterr().err)
    assert line["query"] == "gaming laptop 推荐"


def test_probes_log_at_debug_only(capsys: pytest.CaptureFixture[str]) -> None:
    client = small_shop.app(small_shop.settings(), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.get("/healthz")
    client.get("/metrics")
    assert access_lines(capsys.readouterr().err) == []
