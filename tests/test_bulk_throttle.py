"""Throttled providers against the scripted upstream: 429s wait and do not fail, other errors retry then fail."""

from __future__ import annotations

import threading
import time

import pytest

from service.bulk.limiter import AdaptiveLimiter
from service.bulk.throttle import ThrottledProvider, throttled_chain
from service.errors import ProviderUnavailable, RetryableProviderError
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from service.settings import load_settings
from tests.support.openai_upstream import reply, status


def chat(deadline_s: float = 10.0) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": "hi"},),
        schema_name="s",
        schema={"type": "object"},
        deadline=time.monotonic() + deadline_s,
    )


def bare(upstream) -> OpenAIProvider:
    return OpenAIProvider(model="m", api_key="k", base_url=upstream.base_url, retry=RetryPolicy(retries=0))


def test_429s_wait_out_retry_after_without_using_the_retry_budget(upstream):
    upstream.script(status(429, retry_after=0.2, times=4), reply({"ok": True}))
    limiter = AdaptiveLimiter(4)
    provider = ThrottledProvider(bare(upstream), limiter, retries=0)
    t0 = time.monotonic()
    completion = provider.complete(chat())
    assert completion.text == '{"ok": true}' and upstream.calls == 5
    assert time.monotonic() - t0 >= 0.75 and limiter.rate_limited_count == 4 and limiter.in_flight == 0


def test_everyone_pauses_when_one_call_sees_a_429(upstream):
    upstream.default(reply({"ok": True}))
    upstream.script(status(429, retry_after=0.5))
    limiter = AdaptiveLimiter(8)
    provider = ThrottledProvider(bare(upstream), limiter)
    provider.complete(chat())  # the refused call, then its retry after the pause
    first = upstream.chat_requests[0].received_at
    threads = [threading.Thread(target=provider.complete, args=(chat(),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.received_at - first >= 0.45 for r in upstream.chat_requests[1:])


def test_other_transient_errors_retry_then_fail(upstream):
    upstream.default(status(503))
    provider = ThrottledProvider(bare(upstream), AdaptiveLimiter(2), retries=2)
    with pytest.raises(RetryableProviderError):
        provider.complete(chat())
    assert upstream.calls == 3


def test_deadline_and_stop_while_paused(upstream):
    upstream.default(status(429, retry_after=5))
    stop = threading.Event()
    provider = ThrottledProvider(bare(upstream), AdaptiveLimiter(2), stop=stop)
    t0 = time.monotonic()
    with pytest.raises(RetryableProviderError):  # the last 429, once the deadline passes mid-pause
        provider.complete(chat(deadline_s=0.5))
    assert time.monotonic() - t0 < 2
    stop.set()
    with pytest.raises(ProviderUnavailable, match="stopped"):
        ThrottledProvider(bare(upstream), AdaptiveLimiter(2), stop=stop).complete(chat())


def test_throttled_chain_keeps_the_fingerprint(upstream):
    settings = load_settings(openai_base_url=upstream.base_url, openai_api_key="k", providers="openai")
    from service.provider.registry import build_chain

    plain = build_chain(settings, Metrics())
    throttled = throttled_chain(settings, Metrics(), AdaptiveLimiter(4))
    assert throttled.fingerprint("copy") == plain.fingerprint("copy")  # bulk and API share cached answers
    assert all(isinstance(p, ThrottledProvider) for p in throttled.providers)
