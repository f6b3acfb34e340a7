"""The scripted upstream, driven through the real openai SDK (and httpx) over loopback HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.openai_upstream import (
    OpenAIUpstream,
    cut_after,
    delay,
    drop,
    error_after,
    fail_then_succeed,
    hang,
    held,
    malformed,
    malformed_after,
    refused_base_url,
    reply,
    reply_fn,
    status,
    stream,
    stream_tokens,
    truncated,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "system", "content": "You pick products."}, {"role": "user", "content": "羽绒服"}]


def client(base_url: str, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="test", max_retries=kw.pop("max_retries", 0), **kw)


def ask(c: openai.OpenAI, **kw):
    return c.chat.completions.create(model=kw.pop("model", "gpt-4o-mini"), messages=kw.pop("messages", MESSAGES), **kw)


# ------------------------------------------------------------------ replies


def test_reply_dict_parses_as_chat_completion(upstream):
    upstream.script(reply({"items": [{"id": "p1"}]}))
    raw = client(upstream.base_url).chat.completions.with_raw_response.create(model="shop-model", messages=MESSAGES)
    r = raw.parse()

    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.model == "shop-model"
    assert abs(r.created - time.time()) < 5
    assert json.loads(r.choices[0].message.content) == {"items": [{"id": "p1"}]}
    assert r.choices[0].message.role == "assistant" and r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert raw.request_id and raw.request_id.startswith("req_")
    assert raw.http_response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "content",
    ['Sure! Here it is: {"items": []} Hope that helps.', '```json\n{"items": []}\n```', "纯文本，不是 JSON"],
)
def test_reply_text_is_delivered_verbatim(upstream, content):
    upstream.script(reply(content))
    assert ask(client(upstream.base_url)).choices[0].message.content == content


def test_reply_finish_reason_and_usage_override(upstream):
    upstream.script(reply("{", finish_reason="length", usage={"prompt_tokens": 100, "completion_tokens": 800}))
    r = ask(client(upstream.base_url))
    assert r.choices[0].finish_reason == "length"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (100, 800, 900)


def test_reply_fn_computes_content_from_request_body(upstream):
    def first_two_ids(body):
        ids = re.findall(r"\[(p\d+)\]", body["messages"][-1]["content"])
        return {"items": [{"id": i} for i in ids[:2]], "model_seen": body["model"]}

    upstream.script(reply_fn(first_two_ids))
    r = ask(client(upstream.base_url), model="m-x", messages=[{"role": "user", "content": "[p7] a\n[p3] b\n[p9] c"}])
    assert json.loads(r.choices[0].message.content) == {"items": [{"id": "p7"}, {"id": "p3"}], "model_seen": "m-x"}


def test_reply_fn_may_answer_with_a_step(upstream):
    upstream.default(reply_fn(lambda body: status(503) if body["model"] == "bad" else "fine"))
    c = client(upstream.base_url)
    with pytest.raises(openai.InternalServerError):
        ask(c, model="bad")
    assert ask(c, model="good").choices[0].message.content == "fine"


# ------------------------------------------------------------------ status errors


def test_429_maps_to_rate_limit_error_with_readable_headers(upstream):
    upstream.script(status(429, retry_after=1))
    with pytest.raises(openai.RateLimitError) as ei:
        ask(client(upstream.base_url))
    e = ei.value
    assert e.status_code == 429
    assert e.response.headers["retry-after"] == "1"
    assert e.request_id and e.request_id.startswith("req_")
    assert e.body == {"message": e.body["message"], "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    assert e.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (502, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_status_maps_to_sdk_exception(upstream, code, exc):
    upstream.script(status(code))
    with pytest.raises(exc) as ei:
        ask(client(upstream.base_url))
    assert ei.value.status_code == code
    assert set(ei.value.body) == {"message", "type", "param", "code"}


def test_status_custom_body_and_headers(upstream):
    upstream.script(status(400, body={"error": {"message": "context too long", "type": "invalid_request_error",
                                                "param": "messages", "code": "context_length_exceeded"}},
                           headers={"x-custom": "yes"}))
    with pytest.raises(openai.BadRequestError) as ei:
        ask(client(upstream.base_url))
    assert ei.value.code == "context_length_exceeded" and ei.value.param == "messages"
    assert ei.value.response.headers["x-custom"] == "yes"


def test_sdk_retries_honour_retry_after_ms_then_succeed(upstream):
    upstream.script(fail_then_succeed(2, failure=status(503, retry_after_ms=10), success=reply("ok")))
    t0 = time.monotonic()
    r = ask(client(upstream.base_url, max_retries=2))
    assert r.choices[0].message.content == "ok"
    assert time.monotonic() - t0 < 0.5  # 10 ms hints, not the SDK's 0.5 s+ default backoff
    assert [q.headers["x-stainless-retry-count"] for q in upstream.requests] == ["0", "1", "2"]


# ------------------------------------------------------------------ timing and transport failures


def test_delay_past_client_timeout_raises_api_timeout(upstream):
    upstream.script(delay(1.0, then=reply("late")))
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(client(upstream.base_url, timeout=0.2))
    assert time.monotonic() - t0 < 0.8


def test_delay_then_answers_after_the_delay(upstream):
    upstream.script(delay(0.15, then=reply("slow")), delay(0.05))
    c = client(upstream.base_url, timeout=2)
    t0 = time.monotonic()
    assert ask(c).choices[0].message.content == "slow"
    assert time.monotonic() - t0 >= 0.15
    assert json.loads(ask(c).choices[0].message.content) == {}  # then=None: the default step


def test_latency_applies_to_every_answer(upstream):
    upstream.set_latency(0.2).script(status(500))
    c = client(upstream.base_url)
    for expect_error in (True, False):
        t0 = time.monotonic()
        if expect_error:
            with pytest.raises(openai.InternalServerError):
                ask(c)
        else:
            ask(c)
        assert 0.2 <= time.monotonic() - t0 < 1.0  # generous: a loaded CI box; 0.2 s is the point


def test_hang_times_out_and_reset_releases_it(upstream):
    upstream.script(hang())
    with pytest.raises(openai.APITimeoutError):
        ask(client(upstream.base_url, timeout=0.2))
    upstream.reset()
    assert ask(client(upstream.base_url, timeout=2)).choices[0].message.content == "{}"


def test_held_answers_when_opened_and_reset_drops_it(upstream):
    gate = held(then=reply("opened"), times=2)
    upstream.script(gate)
    c = client(upstream.base_url, timeout=5)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(lambda: ask(c).choices[0].message.content)
        time.sleep(0.1)
        assert not first.done() and upstream.calls == 1  # in flight until opened
        gate.open()
        assert first.result(timeout=2) == "opened"
    assert ask(c).choices[0].message.content == "opened"  # an open gate lets the next one through too
    upstream.script(held())
    with ThreadPoolExecutor(1) as pool:
        dropped = pool.submit(ask, c)
        while upstream.calls < 3:
            time.sleep(0.01)
        upstream.reset()
        with pytest.raises(openai.APIConnectionError):
            dropped.result(timeout=2)


def test_drop_closes_connection_without_response(upstream):
    upstream.script(drop(), drop())
    with pytest.raises(openai.APIConnectionError) as ei:
        ask(client(upstream.base_url, timeout=2))
    assert not isinstance(ei.value, openai.APITimeoutError)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{upstream.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert upstream.calls == 2


def test_malformed_body_over_httpx_and_sdk(upstream):
    upstream.script(malformed("<html>502 Bad Gateway</html>"), malformed("not json"),
                    malformed("plain words", content_type="text/plain"))
    r = httpx.post(f"{upstream.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert r.status_code == 200 and r.text == "<html>502 Bad Gateway</html>"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    c = client(upstream.base_url)
    # What a provider must be ready for: the SDK raises the decoder's error as is (a ValueError)...
    with pytest.raises(ValueError):
        ask(c)
    # ...or, for a non-JSON content type, hands back the bare text instead of a ChatCompletion.
    assert ask(c) == "plain words"


def test_truncated_body_raises_connection_error(upstream):
    upstream.script(truncated({"items": [{"id": "p1"}]}), truncated("x", keep=0.0, times=2))
    c = client(upstream.base_url, timeout=2)
    for _ in range(2):
        with pytest.raises(openai.APIConnectionError) as ei:
            ask(c)
        assert not isinstance(ei.value, openai.APITimeoutError)
    with pytest.raises(httpx.RemoteProtocolError):  # fewer bytes than Content-Length announced
        httpx.post(f"{upstream.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES})


def test_refused_address_raises_connection_error():
    url = refused_base_url()
    with pytest.raises(openai.APIConnectionError) as ei:
        ask(client(url, timeout=2))
    assert not isinstance(ei.value, openai.APITimeoutError)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")


# ------------------------------------------------------------------ scripting


def test_times_queue_order_and_default(upstream):
    upstream.script(status(500, times=2), reply("third")).default(reply("fallback"))
    assert upstream.pending == 3
    c = client(upstream.base_url)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            ask(c)
    assert ask(c).choices[0].message.content == "third"
    assert upstream.pending == 0
    assert ask(c).choices[0].message.content == "fallback"
    assert ask(c).choices[0].message.content == "fallback"


def test_fail_then_succeed_without_success_falls_to_default(upstream):
    steps = fail_then_succeed(3, failure=status(429, retry_after=1, times=5))
    assert len(steps) == 3
    upstream.script(steps)
    c = client(upstream.base_url)
    for _ in range(3):
        with pytest.raises(openai.RateLimitError):
            ask(c)
    assert ask(c).choices[0].message.content == "{}"


def test_reset_clears_script_records_default_and_latency(upstream):
    upstream.script(status(500)).default(reply("x")).set_latency(2.0).set_stream(ttft_s=2.0)
    httpx.get(f"{upstream.base_url}/models")
    upstream.reset()
    assert (upstream.pending, upstream.requests, upstream.calls) == (0, [], 0)
    t0 = time.monotonic()
    assert ask(client(upstream.base_url)).choices[0].message.content == "{}"
    assert content_of(ask(client(upstream.base_url), stream=True)) == "{}"
    assert time.monotonic() - t0 < 1.5  # neither the 2 s latency nor the 2 s time to first token is left


# ------------------------------------------------------------------ recording and routes


def test_records_what_the_upstream_saw(upstream):
    c = openai.OpenAI(base_url=upstream.base_url, api_key="sk-secret-1", max_retries=0)
    fmt = {"type": "json_schema", "json_schema": {"name": "rec", "schema": {"type": "object"}, "strict": True}}
    ask(c, model="gpt-4o", response_format=fmt, temperature=0.2, max_tokens=50)
    c.models.list()

    chat, models = upstream.requests
    assert (chat.method, chat.path, chat.model) == ("POST", "/v1/chat/completions", "gpt-4o")
    assert chat.messages == MESSAGES
    assert chat.response_format == fmt
    assert chat.body["temperature"] == 0.2 and chat.body["max_tokens"] == 50
    assert chat.authorization == "Bearer sk-secret-1"
    assert json.loads(chat.raw) == chat.body
    assert chat.received_at <= models.received_at
    assert (models.method, models.path, models.body, models.is_chat) == ("GET", "/v1/models", None, False)
    assert upstream.calls == 1 and upstream.chat_requests == [chat]


def test_gateway_path_prefix_reaches_chat(upstream):
    base = upstream.base_url.removesuffix("/v1") + "/gateway/openai/v1"
    assert ask(client(base)).choices[0].message.content == "{}"
    assert upstream.chat_requests[0].path == "/gateway/openai/v1/chat/completions"


def test_routes_without_v1_prefix_and_unknown_paths(upstream):
    base = upstream.base_url.removesuffix("/v1")
    r = httpx.post(f"{base}/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    assert r.headers["x-request-id"].startswith("req_")
    assert httpx.get(f"{base}/models").json()["object"] == "list"
    nf = httpx.get(f"{base}/v1/embeddings")
    assert nf.status_code == 404 and nf.json()["error"]["code"] == "unknown_url"
    assert upstream.calls == 1 and len(upstream.requests) == 3


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"messages": [{"role": "user", "content": "x"}]}', b'{"model": "m", "messages": []}',
     b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}'],
)
def test_invalid_chat_body_is_400_without_consuming_the_script(upstream, payload):
    upstream.script(reply("kept"))
    r = httpx.post(f"{upstream.base_url}/chat/completions", content=payload,
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert upstream.pending == 1


# ------------------------------------------------------------------ concurrency and lifecycle


def test_concurrent_requests_are_served_in_parallel(upstream):
    upstream.set_latency(0.2)
    c = client(upstream.base_url, timeout=5)
    barrier = threading.Barrier(32)

    def call(i: int) -> str:
        barrier.wait()
        return ask(c, model=f"m{i}").model

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(call, range(32)))  # opens 32 keep-alive connections, as a benchmark's warm-up does
        upstream.reset()
        upstream.set_latency(0.2)
        t0 = time.monotonic()
        results = list(pool.map(call, range(32)))
        wall = time.monotonic() - t0
    assert results == [f"m{i}" for i in range(32)]
    arrivals = [r.received_at for r in upstream.requests]
    assert len(arrivals) == 32
    # every request reached the server before the first could be answered: they were served in parallel
    assert max(arrivals) - min(arrivals) < 0.2
    assert wall < 1.6, wall  # serially this would take 32 x 0.2 s = 6.4 s


def test_keepalive_round_trip_has_no_nagle_stall(upstream):
    c = client(upstream.base_url)
    ask(c)
    samples = []
    for _ in range(20):
        t0 = time.monotonic()
        ask(c)
        samples.append(time.monotonic() - t0)
    assert sorted(samples)[10] < 0.02  # Nagle + delayed ACK would add ~40 ms to each
    assert len({r.client_address for r in upstream.requests}) == 1  # one keep-alive connection


def test_script_is_consumed_once_under_concurrency(upstream):
    upstream.script(status(500, times=10)).default(reply("ok"))
    c = client(upstream.base_url, timeout=5)

    def outcome(_):
        try:
            return ask(c).choices[0].message.content
        except openai.InternalServerError:
            return "500"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(outcome, range(40)))
    assert results.count("500") == 10 and results.count("ok") == 30


def test_stop_releases_hung_and_idle_keepalive_connections():
    up = OpenAIUpstream().start()
    base_url = up.base_url
    up.script(hang())
    c = client(up.base_url, timeout=10)
    errors: list[Exception] = []

    def call():
        try:
            ask(c)
        except Exception as e:  # noqa: BLE001 - recorded for the assertion
            errors.append(e)

    t = threading.Thread(target=call)
    t.start()
    while up.calls == 0:
        time.sleep(0.01)
    t0 = time.monotonic()
    up.stop()
    t.join(timeout=3)
    assert time.monotonic() - t0 < 1.0 and not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models")


def test_context_manager_and_default_from_constructor():
    with OpenAIUpstream(latency=0.0, default=reply("ctor")) as up:
        assert up.base_url.endswith("/v1")
        assert ask(client(up.base_url)).choices[0].message.content == "ctor"
    with pytest.raises(RuntimeError):
        _ = up.base_url


def test_standalone_entry_point_serves_until_terminated():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_upstream", "--port", "0", "--latency", "0.05",
         "--reply", '{"ok": true}', "--ttft", "0.1", "--tokens-per-s", "1000"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:") and line.endswith("/v1")
        c = client(line.split()[1], timeout=5)
        assert json.loads(ask(c).choices[0].message.content) == {"ok": True}
        t0 = time.monotonic()
        chunks = list(ask(c, stream=True))
        assert time.monotonic() - t0 >= 0.15  # latency + time to first token
        assert json.loads("".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)) == {"ok": True}
    finally:
        proc.terminate()
    assert proc.wait(timeout=5) == 0


# ------------------------------------------------------------------ streaming (stream=true)

ANSWER = {"items": [{"id": "p-1", "reason": "Warm down, 羽绒服 for winter."}], "summary": "One pick."}


def sse_events(text: str) -> list[str]:
    """The data of each server-sent event, checking the framing on the way."""
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") and "\n" not in e for e in events), events
    return [e.removeprefix("data: ") for e in events]


def content_of(chunks) -> str:
    return "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)


def test_stream_parses_with_the_sdk_streaming_client(upstream):
    upstream.script(reply(ANSWER))
    chunks = list(ask(client(upstream.base_url), model="gpt-4o", stream=True,
                      stream_options={"include_usage": True}))

    assert all(type(ch).__name__ == "ChatCompletionChunk" and ch.object == "chat.completion.chunk" for ch in chunks)
    assert len({ch.id for ch in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert {ch.model for ch in chunks} == {"gpt-4o"} and len({ch.created for ch in chunks}) == 1
    first, *middle, finish, last = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert [ch.choices[0].finish_reason for ch in middle] == [None] * len(middle)
    assert len(middle) == len(stream_tokens(json.dumps(ANSWER, ensure_ascii=False))) > 10  # one frame a token
    assert json.loads(content_of(chunks)) == ANSWER
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert last.choices == [] and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(ch.usage is None for ch in chunks[:-1])
    assert upstream.chat_requests[0].stream


def test_stream_accumulates_with_the_sdk_stream_helper(upstream):
    upstream.script(reply(ANSWER), reply("{\"items\": [", finish_reason="length"))
    c = client(upstream.base_url)
    with c.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
        kinds = [event.type for event in s]
        final = s.get_final_completion()
    assert kinds.count("content.delta") > 10 and kinds[-1] == "content.done"
    assert json.loads(final.choices[0].message.content) == ANSWER
    assert final.choices[0].finish_reason == "stop"
    with pytest.raises(openai.LengthFinishReasonError):  # the helper's check of a cut-off answer
        with c.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
            s.get_final_completion()


def test_stream_raw_frames_are_openai_server_sent_events(upstream):
    upstream.script(reply("你好 world"), reply("ok"))
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    r = httpx.post(f"{upstream.base_url}/chat/completions", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
    assert r.headers["x-request-id"].startswith("req_")
    *frames, done = sse_events(r.text)
    assert done == "[DONE]"
    frames = [json.loads(f) for f in frames]
    assert [f["choices"][0]["delta"] for f in frames] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "你"}, {"content": "好"}, {"content": " worl"}, {"content": "d"}, {},
    ]
    assert all("usage" not in f and f["obfuscation"] and f["service_tier"] == "default" for f in frames)
    assert [f["choices"][0]["finish_reason"] for f in frames][-1] == "stop"

    quiet = {**body, "stream_options": {"include_obfuscation": False, "include_usage": True}}
    frames = [json.loads(f) for f in sse_events(httpx.post(f"{upstream.base_url}/chat/completions", json=quiet).text)[:-1]]
    assert all("obfuscation" not in f for f in frames)
    assert [f["usage"] is None for f in frames] == [True] * (len(frames) - 1) + [False]


def test_stream_tokens_join_back_exactly():
    for text in ("", "a", "  leading and trailing  ", "supercalifragilistic", "适合冬天穿的羽绒服！", '{"a": [1, 2]}\n'):
        assert "".join(stream_tokens(text)) == text
    assert stream_tokens("羽绒服 jacket") == ["羽", "绒", "服", " jack", "et"]


def test_reply_fn_and_delay_stream_when_asked(upstream):
    upstream.script(delay(0.05, then=reply_fn(lambda body: {"model": body["model"]})))
    assert json.loads(content_of(ask(client(upstream.base_url), model="m-7", stream=True))) == {"model": "m-7"}


def test_stream_pace_time_to_first_token_and_rate(upstream):
    upstream.set_stream(ttft_s=0.25, tokens_per_s=40)
    text = "one two three four five six seven eight nine ten"  # 19 tokens: ~0.45 s after the first
    upstream.script(reply(text))
    t0 = time.monotonic()
    arrivals = []
    for ch in ask(client(upstream.base_url, timeout=5), stream=True):
        if ch.choices and ch.choices[0].delta.content:
            arrivals.append(time.monotonic() - t0)
    n = len(stream_tokens(text))
    assert len(arrivals) == n
    assert 0.25 <= arrivals[0] < 0.25 + 0.4
    assert arrivals[-1] - arrivals[0] >= (n - 1) / 40 * 0.9  # paced, not in one burst
    assert arrivals[-1] - arrivals[0] < (n - 1) / 40 + 0.5


def test_step_pace_overrides_the_server_pace(upstream):
    upstream.set_stream(ttft_s=2.0)
    upstream.script(stream("fast", ttft_s=0.0))
    t0 = time.monotonic()
    assert content_of(ask(client(upstream.base_url), stream=True)) == "fast"
    assert time.monotonic() - t0 < 1.0


def test_slow_first_token_trips_the_read_timeout(upstream):
    upstream.script(stream("late", ttft_s=1.0))
    s = ask(client(upstream.base_url, timeout=0.3), stream=True)  # headers and role frame come at once
    with pytest.raises(openai.APITimeoutError):
        list(s)


def test_stream_cut_off_mid_stream_is_a_connection_error(upstream):
    upstream.script(stream("one two three four", fault=cut_after(3)))
    got = []
    with pytest.raises(openai.APIConnectionError) as ei:
        for ch in ask(client(upstream.base_url, timeout=2), stream=True):
            got.append(ch)
    assert not isinstance(ei.value, openai.APITimeoutError)
    assert content_of(got) == "".join(stream_tokens("one two three four")[:3])
    assert all(ch.choices[0].finish_reason is None for ch in got)


def test_stream_ended_early_is_silent_without_finish_reason(upstream):
    upstream.script(stream("one two three four", fault=cut_after(2, clean=True)), reply("next"))
    c = client(upstream.base_url, timeout=2)
    got = list(ask(c, stream=True))  # no error: only a missing finish_reason (and [DONE]) tells
    assert content_of(got) == "one two" and all(ch.choices[0].finish_reason is None for ch in got)
    assert ask(c).choices[0].message.content == "next"  # the connection stayed usable
    r = httpx.post(f"{upstream.base_url}/chat/completions",
                   json={"model": "m", "messages": MESSAGES, "stream": True}, timeout=2)
    assert sse_events(r.text)[-1] == "[DONE]"


def test_stream_malformed_chunk_raises_a_decode_error(upstream):
    upstream.script(stream("one two three", fault=malformed_after(2)))
    got = []
    with pytest.raises(json.JSONDecodeError):
        for ch in ask(client(upstream.base_url), stream=True):
            got.append(ch)
    assert content_of(got) == "one two"


def test_stream_error_mid_stream_raises_api_error(upstream):
    upstream.script(stream("one two three", fault=error_after(1, code=503, message="The model is overloaded.")))
    got = []
    with pytest.raises(openai.APIError) as ei:
        for ch in ask(client(upstream.base_url), stream=True):
            got.append(ch)
    assert ei.value.message == "The model is overloaded." and ei.value.body["type"] == "server_error"
    assert content_of(got) == "one"


def test_stream_request_gets_status_errors_before_streaming(upstream):
    upstream.script(status(429, retry_after=2), malformed("<html>bad gateway</html>", code=502))
    c = client(upstream.base_url)
    with pytest.raises(openai.RateLimitError) as ei:
        ask(c, stream=True)
    assert ei.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError):
        ask(c, stream=True)


def test_stream_step_refuses_a_non_stream_request(upstream):
    upstream.script(stream("x"))
    with pytest.raises(openai.BadRequestError, match="without stream=true"):
        ask(client(upstream.base_url))


def test_reset_drops_a_stream_in_progress(upstream):
    upstream.script(stream("a b c d e f g h", tokens_per_s=2))
    s = ask(client(upstream.base_url, timeout=10), stream=True)
    first = next(iter(s))
    assert first.choices[0].delta.role == "assistant"
    t0 = time.monotonic()
    upstream.reset()
    with pytest.raises(openai.APIConnectionError):
        list(s)
    assert time.monotonic() - t0 < 1.0


def test_stream_records_and_paced_unstreamed_answers():
    """issue 15: each streamed answer's outcome is recorded; pace_unstreamed makes a whole answer take as long."""
    import httpx

    from tests.support.openai_upstream import OpenAIUpstream, cut_after, reply, stream

    with OpenAIUpstream(ttft_s=0.1, tokens_per_s=100, pace_unstreamed=True) as up:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        up.script(reply("one two three four five six seven eight"), stream("abc def", fault=cut_after(1)))
        started = time.monotonic()
        assert httpx.post(up.base_url + "/chat/completions", json=body).status_code == 200
        assert time.monotonic() - started >= 0.1 + 8 / 100 - 0.01
        with pytest.raises(httpx.HTTPError):
            httpx.post(up.base_url + "/chat/completions", json={**body, "stream": True}).read()
        (record,) = up.streams
        assert record.outcome == "fault" and record.sent == 1 and record.total == 2
