"""``local`` as the model server (issue 17), seen from the web side, against the scripted upstream over HTTP.

The compact form and its grammar schema are sent because the provider's setting says so
(no name check), the call's time left travels in a header, the server is never retried,
and /readyz shows the server's health and the supervisor's state.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.errors import RetryableProviderError
from service.ops.gunicorn import default_workers
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest
from service.provider.chain import ProviderChain
from service.provider.model_server import ModelServerProvider, supervisor_state_file
from service.provider.openai_compat import OpenAIProvider
from service.provider.registry import build_chain, provider_registry
from service.settings import load_settings
from tests.support.openai_upstream import OpenAIUpstream, reply, status

FULL = ({"role": "user", "content": "the full prompt with 20 candidates"},)
COMPACT = ({"role": "user", "content": "the compact prompt with 6 candidates"},)
STATIC_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
GRAMMAR_SCHEMA = {"type": "object", "properties": {"id": {"enum": ["p1", "p2"]}}, "required": ["id"]}


def request(deadline_s: float = 10.0) -> ChatRequest:
    compact = ChatRequest(COMPACT, "pick", STATIC_SCHEMA, 0.0, temperature=0.0, max_tokens=300,
                          grammar_schema=GRAMMAR_SCHEMA)
    return ChatRequest(FULL, "pick", STATIC_SCHEMA, time.monotonic() + deadline_s, compact=lambda: compact)


def server_url(upstream: OpenAIUpstream) -> str:
    return upstream.base_url.removesuffix("/v1").rstrip("/")


def test_a_compact_provider_gets_the_compact_form_and_its_grammar_schema(upstream: OpenAIUpstream) -> None:
    provider = ModelServerProvider(url=server_url(upstream), model="SmolLM2-135M-Instruct", timeout_s=30)
    upstream.script(reply({"id": "p1"}))
    completion = provider.complete(request())
    sent = upstream.chat_requests[-1]
    assert sent.messages == list(COMPACT)
    assert sent.response_format["json_schema"]["schema"] == GRAMMAR_SCHEMA
    assert sent.body["temperature"] == 0.0 and sent.body["max_tokens"] == 300
    assert 0 < float(sent.headers["x-request-timeout"]) <= 10.0
    assert completion.prompt_style == "compact" and completion.provider == "local"
    assert json.loads(completion.text) == {"id": "p1"}


UNIQUE = {"type": "object", "properties": {"items": {"type": "array", "uniqueItems": True, "items": GRAMMAR_SCHEMA}}}


def test_uniqueItems_reaches_the_model_server_but_not_other_compact_providers(upstream: OpenAIUpstream) -> None:
    """shopguide's model server keeps picks distinct; OpenAI's strict mode and vLLM's guidance refuse the keyword."""
    compact = ChatRequest(COMPACT, "pick", STATIC_SCHEMA, time.monotonic() + 10, temperature=0.0, grammar_schema=UNIQUE)
    ModelServerProvider(url=server_url(upstream), model="m", timeout_s=30).complete(compact)
    assert upstream.chat_requests[-1].response_format["json_schema"]["schema"] == UNIQUE
    other = OpenAIProvider(model="m", base_url=upstream.base_url, api_key="sk-test", prompt_style="compact")
    upstream.script(reply({"id": "p1"}))
    other.complete(compact)
    sent = upstream.chat_requests[-1].response_format["json_schema"]["schema"]
    assert "uniqueItems" not in json.dumps(sent) and sent["properties"]["items"]["items"] == GRAMMAR_SCHEMA


def test_a_full_provider_gets_the_full_request_and_the_static_schema(upstream: OpenAIUpstream) -> None:
    provider = ModelServerProvider(url=server_url(upstream), model="m", timeout_s=30, prompt_style="full")
    upstream.script(reply({"id": "p1"}))
    completion = provider.complete(request())
    sent = upstream.chat_requests[-1]
    assert sent.messages == list(FULL)
    assert sent.response_format["json_schema"]["schema"] == STATIC_SCHEMA
    assert completion.prompt_style == "full"


def test_the_model_server_is_not_retried(upstream: OpenAIUpstream) -> None:
    provider = ModelServerProvider(url=server_url(upstream), model="m", timeout_s=30)
    upstream.script(status(503))
    with pytest.raises(RetryableProviderError):
        provider.complete(request())
    assert len(upstream.chat_requests) == 1


def test_describe_shows_an_unreachable_server_as_not_ready() -> None:
    provider = ModelServerProvider(url="http://127.0.0.1:9", model="m", timeout_s=1)
    info = provider.describe()
    assert info["ready"] is False and info["server"]["status"] == "unreachable"
    assert info["type"] == "model-server" and "supervisor" not in info


def test_describe_adds_the_supervisor_state_when_there_is_one(upstream: OpenAIUpstream) -> None:
    url = server_url(upstream)
    state_file = supervisor_state_file(url)
    assert state_file is not None
    state_file.write_text(json.dumps({"state": "restarting", "restarts": 2, "last_exit": -9}))
    try:
        info = ModelServerProvider(url=url, model="m", timeout_s=1, state_file=state_file).describe()
    finally:
        state_file.unlink()
    assert info["supervisor"] == {"state": "restarting", "restarts": 2, "last_exit": -9}
    assert supervisor_state_file("http://models.internal:8002") is None  # not this machine's child


class SlowHealth(http.server.BaseHTTPRequestHandler):
    """A model server's /healthz that takes 200 ms and counts how often it is asked."""

    asked = 0
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).asked += 1
        time.sleep(0.2)
        body = json.dumps({"status": "ready", "model": "m"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_servers_health_is_asked_by_one_thread_at_a_time_and_not_per_request(monkeypatch) -> None:
    """/readyz and the cache key read describe(); 64 request threads must not each ask the server (they did, through
    the cache key: 5 ms of CPU a request in the default chain's web workers under load)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHealth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = ModelServerProvider(url=f"http://127.0.0.1:{server.server_port}", model="m", timeout_s=1)
        chain = ProviderChain([provider])
        assert provider.describe()["ready"] and SlowHealth.asked == 1
        monkeypatch.setattr("service.provider.model_server.HEALTH_TTL_S", 0.0)  # every answer is stale now
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: provider.describe()["ready"], range(16)))
        assert all(answers) and SlowHealth.asked <= 3  # one asks; the others take the last answer meanwhile
        asked = SlowHealth.asked
        for _ in range(50):
            chain.fingerprint("recommend")
        assert SlowHealth.asked == asked + 1 and chain.fingerprint("recommend") == "local:m:json_schema"
        provider.close()
    finally:
        server.shutdown()
        server.server_close()


def test_local_with_a_url_is_the_model_server_and_the_workers_count_as_hosted_only(monkeypatch) -> None:
    monkeypatch.setenv("SHOPGUIDE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    embedded = load_settings(providers="openai,local", redis_url="redis://127.0.0.1:6379/0", workers=None)
    served = load_settings(
        providers="openai,local", redis_url="redis://127.0.0.1:6379/0", local_url="http://127.0.0.1:8002"
    )
    assert provider_registry(embedded).get("local").in_process
    assert not provider_registry(served).get("local").in_process
    assert default_workers(embedded) == 2
    assert default_workers(served) == default_workers(load_settings(providers="openai", redis_url="redis://127.0.0.1:6379/0"))
    chain: ProviderChain = build_chain(served, Metrics())
    local = chain.providers[1]
    assert isinstance(local, ModelServerProvider) and local.url == "http://127.0.0.1:8002"
    assert chain.wants_compact


def test_the_prompt_style_is_a_provider_setting(monkeypatch) -> None:
    extra = {"small": {"base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5-1.5b", "prompt_style": "compact"},
             "big": {"base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5-72b"}}
    monkeypatch.setenv("SHOPGUIDE_EXTRA_PROVIDERS", json.dumps(extra))
    settings = load_settings(providers="big,small")
    chain = build_chain(settings, Metrics())
    assert [getattr(p, "prompt_style") for p in chain.providers] == ["full", "compact"]
    assert chain.wants_compact
    assert not build_chain(load_settings(providers="big"), Metrics()).wants_compact
    served = load_settings(providers="local", local_url="http://127.0.0.1:8002", local_prompt_style="full")
    assert not build_chain(served, Metrics()).wants_compact
