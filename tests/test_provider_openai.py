"""The OpenAI-compatible provider against the scripted upstream, over real HTTP."""

import time

import pytest

from service.errors import InvalidOutput, ProviderError, RateLimited, RetryableProviderError, UpstreamTimeout
from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_schema
from service.provider.base import ChatRequest
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from tests.support.openai_upstream import delay, drop, hang, malformed, refused_base_url, reply, status

ANSWER = {"items": [{"id": "P1", "reason": "warm"}], "summary": "ok"}


def provider(base_url, *, retries=3, timeout_s=2.0, sleeps=None, **kwargs):
    return OpenAIProvider(
        model="test-model",
        api_key="sk-test-secret",
        base_url=base_url,
        timeout_s=timeout_s,
        retry=RetryPolicy(retries=retries, initial_wait_s=0.01, max_wait_s=0.05, jitter_s=0.0),
        sleep=(sleeps.append if sleeps is not None else time.sleep),
        **kwargs,
    )


def chat(deadline_s=5.0, **kwargs):
    return ChatRequest(
        messages=({"role": "system", "content": "s"}, {"role": "user", "content": "u"}),
        schema_name=RECOMMEND_SCHEMA_NAME,
        schema=recommend_schema(),
        deadline=time.monotonic() + deadline_s,
        **kwargs,
    )


def test_good_answer_and_what_the_upstream_receives(upstream):
    upstream.script(reply(ANSWER, usage={"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}))
    completion = provider(upstream.base_url).complete(chat(temperature=0.3, max_tokens=321))
    assert completion.provider == "openai" and completion.model == "test-model"
    assert completion.tokens_in == 50 and completion.tokens_out == 7 and completion.attempts == 1
    assert completion.upstream_request_id
    sent = upstream.chat_requests[0]
    assert sent.authorization == "Bearer sk-test-secret"
    assert sent.body["temperature"] == 0.3 and sent.body["max_tokens"] == 321
    assert sent.response_format == {
        "type": "json_schema",
        "json_schema": {"name": RECOMMEND_SCHEMA_NAME, "schema": recommend_schema(), "strict": True},
    }


def test_model_override_and_response_format_modes(upstream):
    upstream.default(reply(ANSWER))
    provider(upstream.base_url).complete(chat(model="fast-model"))
    provider(upstream.base_url, response_format="json_object").complete(chat())
    provider(upstream.base_url, response_format="text", max_tokens_param="max_completion_tokens").complete(chat())
    first, second, third = upstream.chat_requests
    assert first.model == "fast-model"
    assert second.response_format == {"type": "json_object"}
    assert third.response_format is None and third.body["max_completion_tokens"] == 800


def test_429_honours_retry_after_then_succeeds(upstream):
    upstream.script(status(429, retry_after=1), reply(ANSWER))
    sleeps = []
    completion = provider(upstream.base_url, sleeps=sleeps).complete(chat())
    assert completion.attempts == 2 and sleeps == [1.0]
    assert upstream.calls == 2


@pytest.mark.parametrize("code", [500, 502, 503])
def test_5xx_is_retried(upstream, code):
    upstream.script(status(code), status(code), reply(ANSWER))
    assert provider(upstream.base_url).complete(chat()).attempts == 3


def test_sdk_does_not_retry_on_its_own(upstream):
    upstream.default(status(500))
    with pytest.raises(RetryableProviderError) as info:
        provider(upstream.base_url, retries=2).complete(chat())
    assert upstream.calls == 3  # 1 + 2 tenacity retries, not multiplied by SDK retries
    assert info.value.status_code == 500 and info.value.request_id


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(upstream, code):
    upstream.default(status(code))
    with pytest.raises(ProviderError) as info:
        provider(upstream.base_url).complete(chat())
    assert not isinstance(info.value, RetryableProviderError)
    assert info.value.status_code == code and upstream.calls == 1


def test_timeout_is_retried_then_raised(upstream):
    upstream.default(delay(1.0))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        provider(upstream.base_url, retries=1, timeout_s=0.2).complete(chat())
    assert upstream.calls == 2
    assert time.monotonic() - started < 1.0


def test_deadline_caps_the_attempt_timeout(upstream):
    upstream.script(hang())
    started = time.monotonic()
    with pytest.raises(ProviderError):
        provider(upstream.base_url, timeout_s=30).complete(chat(deadline_s=0.4))
    assert time.monotonic() - started < 1.0  # the request stops waiting at its deadline


def test_rate_limited_past_the_deadline_gives_up_at_once(upstream):
    upstream.script(status(429, retry_after=30))
    sleeps = []
    with pytest.raises(RateLimited) as info:
        provider(upstream.base_url, sleeps=sleeps).complete(chat(deadline_s=5))
    assert sleeps == [] and info.value.retry_after == 30


def test_refused_connection_is_retryable():
    with pytest.raises(RetryableProviderError):
        provider(refused_base_url(), retries=1).complete(chat())


@pytest.mark.parametrize("step", [drop(), malformed(), malformed("plain words", content_type="text/plain")])
def test_broken_bodies_are_retryable_errors(upstream, step):
    upstream.script(step, reply(ANSWER))
    assert provider(upstream.base_url).complete(chat()).attempts == 2


def test_json_that_is_not_a_chat_completion_is_retried_then_named(upstream):
    not_completion = malformed('{"object": "list", "data": []}', content_type="application/json")
    upstream.script(not_completion, reply(ANSWER))
    assert provider(upstream.base_url).complete(chat()).attempts == 2
    upstream.default(not_completion)
    with pytest.raises(RetryableProviderError, match="not a chat completion: choices"):
        provider(upstream.base_url, retries=1).complete(chat())


def test_servers_that_omit_usage_or_send_nulls_are_read(upstream):
    upstream.script(reply(ANSWER, usage={"prompt_tokens": None, "completion_tokens": None, "total_tokens": None}))
    completion = provider(upstream.base_url).complete(chat())
    assert completion.tokens_in == 0 and completion.tokens_out == 0 and completion.text


def test_empty_content_is_invalid_output(upstream):
    upstream.script(reply(""))
    with pytest.raises(InvalidOutput):
        provider(upstream.base_url).complete(chat())


def test_describe_has_no_secret(upstream):
    info = provider(upstream.base_url).describe()
    assert "sk-test-secret" not in repr(info)
    assert info["model"] == "test-model" and info["base_url"].startswith(upstream.base_url)
