"""Structured logs: one JSON line per request, no API key, no shopper text unless opted in; provenance headers."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from service.ops.logs import ScrubbingFormatter, configure_logging, json_formatter
from tests import ops_support
from tests.ops_support import ScriptedProvider, Upstream

API_KEY = "sk-" + uuid.uuid4().hex + uuid.uuid4().hex


def access_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "shopguide.access"]


def test_one_json_line_per_request_with_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    # the model the provider answers with: SHOPGUIDE_MODEL names the openai server's, not a stand-in's
    client = ops_support.app(ops_support.settings(), ScriptedProvider(tokens=(90, 10), model="gpt-4o-mini")).test_client()
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


def test_no_api_key_and_no_shopper_text_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    marker = f"羽绒服 secret-wish-{uuid.uuid4().hex[:8]}"
    with Upstream() as upstream:
        # DEBUG on purpose: the noisiest setting must still leak nothing.
        settings = ops_support.settings(
            openai_base_url=upstream.url, openai_api_key=API_KEY, providers="openai", log_level="DEBUG"
        )
        client = ops_support.app(settings).test_client()
        capsys.readouterr()
        response = client.post("/v1/recommend", json={"query": f"down jacket {marker}"})
        assert response.status_code == 200 and response.json["provider"] == "openai"
        assert upstream.received[0]["authorization"] == f"Bearer {API_KEY}"  # the key did go upstream
        logging.getLogger("openai").debug("request headers: Authorization: Bearer %s", API_KEY)
    err = capsys.readouterr().err
    assert API_KEY not in err and API_KEY[3:20] not in err
    assert marker not in err
    (line,) = access_lines(err)
    assert line["query_chars"] == len(f"down jacket {marker}")
    assert len(line["query_sha256"]) == 16 and "query" not in line


def test_log_prompts_opt_in(capsys: pytest.CaptureFixture[str]) -> None:
    client = ops_support.app(ops_support.settings(log_prompts=True), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.post("/v1/recommend", json={"query": "gaming laptop 推荐"})
    (line,) = access_lines(capsys.readouterr().err)
    assert line["query"] == "gaming laptop 推荐"


def test_probes_log_at_debug_only(capsys: pytest.CaptureFixture[str]) -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.get("/healthz")
    client.get("/metrics")
    assert access_lines(capsys.readouterr().err) == []


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    client = ops_support.app(ops_support.settings(log_format="text"), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.post("/v1/recommend", json={"query": "gaming laptop"})
    err = capsys.readouterr().err
    assert "INFO shopguide.access: POST /v1/recommend 200" in err and not err.lstrip().startswith("{")


def test_scrubbing_formatter_replaces_every_secret() -> None:
    formatter = ScrubbingFormatter(json_formatter(), [API_KEY, "redis-pass-123"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and %s", (API_KEY, "redis-pass-123"), None)
    out = formatter.format(record)
    assert API_KEY not in out and "redis-pass-123" not in out and out.count("****") == 2


def test_configure_logging_is_idempotent_and_replaces_basic_config(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what the CLI's logging.basicConfig installs
    root.addHandler(console)
    try:
        settings = ops_support.settings()
        configure_logging(settings)
        configure_logging(settings)
        ours = [h for h in root.handlers if getattr(h, "_shopguide", False)]
        assert len(ours) == 1 and console not in root.handlers
        capsys.readouterr()
        logging.getLogger("shopguide.test").warning("once")
        assert capsys.readouterr().err.count("once") == 1
    finally:
        root.removeHandler(console)


# -- provenance headers ---------------------------------------------------------------------------
def test_provenance_headers() -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider()).test_client()
    first = client.post("/v1/recommend", json={"query": "gaming laptop"}, headers={"X-Request-ID": "shop-abc.123"})
    assert first.headers["X-Request-ID"] == "shop-abc.123" == first.json["request_id"]
    assert first.headers["X-Shopguide-Provider"] == "fake"
    assert first.headers["X-Shopguide-Cache"] == "miss"
    assert first.headers["X-Shopguide-Prompt-Version"] == first.json["prompt_version"]
    second = client.post("/v1/recommend", json={"query": "gaming laptop"}, headers={"X-Request-ID": "bad id <x>"})
    assert second.headers["X-Shopguide-Cache"] == "hit"
    assert second.headers["X-Request-ID"] != "bad id <x>" and len(second.headers["X-Request-ID"]) == 32


def test_degraded_answer_headers() -> None:
    client = ops_support.app(ops_support.settings(), ScriptedProvider(failures=3)).test_client()
    response = client.post("/v1/recommend", json={"query": "gaming laptop"})
    assert response.json["degraded"] is True
    assert response.headers["X-Shopguide-Provider"] == "none" and response.headers["X-Shopguide-Cache"] == "miss"
