"""The OpenAI-compatible provider streaming from the scripted upstream (``stream: true``)."""

from __future__ import annotations

import threading

import pytest

from service.errors import ProviderError, RetryableProviderError
from service.provider.base import StreamCancelled
from tests.support.openai_upstream import cut_after, error_after, malformed_after, status, stream
from tests.support.waiting import wait_for
from tests.test_provider_openai import chat, provider

ANSWER = '{"items": [{"id": "SG-1", "reason": "fits"}], "summary": "one pick"}'


class Sink:
    def __init__(self):
        self.attempts = 0
        self.pieces: list[str] = []
        self.cancelled = False
        self.closer = None

    def begin(self, *, compact=False):
        self.attempts += 1
        self.pieces = []

    def delta(self, text):
        self.pieces.append(text)

    def on_cancel(self, closer):
        self.closer = closer

    def cancel(self):
        self.cancelled = True
        if self.closer:
            self.closer()


def test_streams_deltas_and_counts_tokens(upstream):
    upstream.script(stream(ANSWER))
    sink = Sink()
    completion = provider(upstream.base_url).complete(chat(stream=sink))
    assert completion.text == ANSWER and "".join(sink.pieces) == ANSWER and len(sink.pieces) > 5
    assert completion.tokens_out > 0 and completion.tokens_in > 0 and completion.model == "test-model"
    sent = upstream.chat_requests[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("fault", [cut_after(5), cut_after(5, clean=True), malformed_after(3), error_after(4)])
def test_a_broken_stream_is_retried_from_the_start(upstream, fault):
    upstream.script(stream(ANSWER, fault=fault), stream(ANSWER))
    sink = Sink()
    completion = provider(upstream.base_url).complete(chat(stream=sink))
    assert completion.text == ANSWER and completion.attempts == 2 and sink.attempts == 2
    assert "".join(sink.pieces) == ANSWER


def test_a_stream_that_keeps_breaking_fails_retryably(upstream):
    upstream.default(stream(ANSWER, fault=cut_after(3)))
    with pytest.raises(RetryableProviderError):
        provider(upstream.base_url, retries=1).complete(chat(stream=Sink()))
    assert upstream.calls == 2


def test_status_errors_before_the_stream_are_translated(upstream):
    upstream.script(status(429, retry_after=0), stream(ANSWER))
    assert provider(upstream.base_url).complete(chat(stream=Sink())).text == ANSWER
    upstream.script(status(400))
    with pytest.raises(ProviderError) as raised:
        provider(upstream.base_url).complete(chat(stream=Sink()))
    assert raised.value.status_code == 400


def test_cancel_closes_the_upstream_response_at_once(upstream):
    upstream.script(stream(ANSWER * 20, ttft_s=0.05, tokens_per_s=20))
    sink = Sink()
    failure = []

    def call():
        try:
            provider(upstream.base_url).complete(chat(stream=sink))
        except StreamCancelled as exc:
            failure.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    wait_for(lambda: len(sink.pieces) >= 3, timeout_s=5)
    sink.cancel()
    thread.join(timeout=3)
    assert not thread.is_alive() and failure and upstream.calls == 1
    wait_for(lambda: upstream.streams[-1].outcome != "streaming", timeout_s=5)
    assert upstream.streams[-1].outcome == "client_closed"
