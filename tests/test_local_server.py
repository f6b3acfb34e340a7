"""``shopguide local serve`` over real HTTP with the real packaged model (SmolLM2-135M): issue 17's tests.

One server process for the module (loading costs seconds): schema-valid output through
the openai SDK, streaming, batching of concurrent requests, the queue-full 429, a
client that hangs up, and the OpenAI error shape for what the server cannot do.
``shopguide serve`` with its supervised model server is tested at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import openai
import pytest

from tests.support.recommend_cases import build_cases
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

QUEUE = 4
BATCH = 4
LONG_TEXT = [{"role": "user", "content": "Write a long story about a cat who travels the world."}]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPGUIDE_")}
    env.update({"SHOPGUIDE_LOG_FORMAT": "text", "SHOPGUIDE_LOCAL_THREADS": "2", "HF_HUB_OFFLINE": "1",
                "SHOPGUIDE_LOCAL_REQUEST_TIMEOUT_S": "900", **extra})
    return env


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    env = _env(SHOPGUIDE_LOCAL_BATCH_SIZE=str(BATCH), SHOPGUIDE_LOCAL_QUEUE_SIZE=str(QUEUE),
               SHOPGUIDE_LOCAL_BATCH_WINDOW_S="0.5")
    process = subprocess.Popen([sys.executable, "-m", "service", "local", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _status(url) == 200 or process.poll() is not None, 240, 0.2)
        assert process.poll() is None, "model server exited during start-up"
        yield url
    finally:
        process.terminate()
        process.wait(20)


def _status(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def client(url: str, timeout: float = 900) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=timeout)


def health(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=5).json()


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(selector) + r"\}" if selector else "") + r" ([0-9.e+-]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def response_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "shopguide_recommendation", "schema": schema, "strict": True}}


def test_models_health_and_metrics(server: str) -> None:
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct"]
    state = health(server)
    assert state["status"] == "ready" and state["ready_s"] > 0 and state["queue_size"] == QUEUE
    assert metric(server, "shopguide_local_server_ready") == 1.0


def test_json_schema_answers_are_valid_with_candidate_ids(server: str) -> None:
    for built in build_cases()[:2]:
        answer = client(server).chat.completions.create(
            model="SmolLM2-135M-Instruct", messages=list(built.messages), temperature=0, max_tokens=400,
            response_format=response_format(built.grammar_schema),
        )
        data = json.loads(answer.choices[0].message.content)
        jsonschema.validate(data, built.grammar_schema)
        assert {item["id"] for item in data["items"]} <= set(built.candidate_ids)
        assert answer.choices[0].finish_reason == "stop"
        assert answer.usage.prompt_tokens > 100 and answer.usage.completion_tokens > 5


def test_streaming_sends_the_answer_in_pieces(server: str) -> None:
    built = build_cases()[6]  # a Chinese case: multi-byte characters split across tokens
    chunks = list(client(server).chat.completions.create(
        model="m", messages=list(built.messages), temperature=0, max_tokens=400, stream=True,
        stream_options={"include_usage": True}, response_format=response_format(built.grammar_schema),
    ))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 10
    assert "\ufffd" not in "".join(pieces)
    data = json.loads("".join(pieces))
    jsonschema.validate(data, built.grammar_schema)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= len(pieces)


def test_max_tokens_and_stop_strings(server: str) -> None:
    short = client(server).chat.completions.create(model="m", messages=LONG_TEXT, max_tokens=8, temperature=0)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 8
    full = client(server).chat.completions.create(model="m", messages=LONG_TEXT, max_tokens=40, temperature=0)
    text = full.choices[0].message.content
    words = text.split()
    stop = words[len(words) // 2]  # a word from the middle of what the model writes greedily
    cut = client(server).chat.completions.create(model="m", messages=LONG_TEXT, max_tokens=40, temperature=0, stop=[stop])
    assert cut.choices[0].finish_reason == "stop"
    assert stop not in cut.choices[0].message.content
    assert text.startswith(cut.choices[0].message.content)


def test_concurrent_requests_run_as_one_batch_faster_than_one_by_one(server: str) -> None:
    clients = [client(server) for _ in range(BATCH)]
    together = threading.Barrier(BATCH)

    def one(i: int, *, concurrent: bool = False) -> float:
        if concurrent:
            together.wait(30)  # the four leave at once, well inside the batch window
        started = time.monotonic()
        answer = clients[i].chat.completions.create(model="m", messages=LONG_TEXT, max_tokens=24, temperature=0)
        assert answer.usage.completion_tokens == 24
        return time.monotonic() - started

    wait_for(lambda: health(server)["running"] == 0, 60, 0.1)
    batches = health(server)["batches"]
    sequential_started = time.monotonic()
    for i in range(BATCH):
        one(i)
    sequential = time.monotonic() - sequential_started
    assert health(server)["batches"] == batches + BATCH
    concurrent_started = time.monotonic()
    with ThreadPoolExecutor(BATCH) as pool:
        list(pool.map(lambda i: one(i, concurrent=True), range(BATCH)))
    concurrent = time.monotonic() - concurrent_started
    assert health(server)["batches"] == batches + BATCH + 1  # the four together: one batch
    assert concurrent < sequential, (concurrent, sequential)


def test_a_full_queue_answers_429_with_retry_after(server: str) -> None:
    wait_for(lambda: health(server)["running"] == 0, 60, 0.1)
    results: list[int] = []

    def long(_: int) -> None:
        response = httpx.post(f"{server}/v1/chat/completions", timeout=120,
                              json={"messages": LONG_TEXT, "max_tokens": 64, "temperature": 0})
        results.append(response.status_code)

    running = threading.Thread(target=long, args=(0,))
    running.start()
    wait_for(lambda: health(server)["running"] == 1, 30, 0.02)  # in the batch: the queue is empty again
    waiting = [threading.Thread(target=long, args=(i,)) for i in range(QUEUE)]
    for thread in waiting:
        thread.start()
    wait_for(lambda: health(server)["queue_depth"] == QUEUE, 30, 0.02)
    refused = httpx.post(f"{server}/v1/chat/completions", json={"messages": LONG_TEXT, "max_tokens": 4}, timeout=30)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    for thread in [running, *waiting]:
        thread.join(120)
    assert results == [200] * (1 + QUEUE)


def test_a_client_that_hangs_up_is_dropped_from_the_batch(server: str) -> None:
    wait_for(lambda: health(server)["running"] == 0, 60, 0.1)
    gone = metric(server, "shopguide_local_server_requests_total", outcome="client_gone")
    tokens = metric(server, "shopguide_local_server_completion_tokens_total")
    with httpx.stream("POST", f"{server}/v1/chat/completions", timeout=60,
                      json={"messages": LONG_TEXT, "max_tokens": 400, "temperature": 0, "stream": True}) as response:
        lines = response.iter_lines()
        seen = [next(lines) for _ in range(6)]  # a few events, then hang up
    assert any(line.startswith("data: ") for line in seen)
    wait_for(lambda: metric(server, "shopguide_local_server_requests_total", outcome="client_gone") == gone + 1, 30, 0.1)
    wait_for(lambda: health(server)["running"] == 0, 30, 0.05)
    assert metric(server, "shopguide_local_server_completion_tokens_total") == tokens  # never finished: not counted
    # and the next request is answered normally
    answer = client(server).chat.completions.create(model="m", messages=LONG_TEXT, max_tokens=4, temperature=0)
    assert answer.choices[0].finish_reason == "length"


def test_what_the_server_cannot_do_is_a_400_in_openai_shape(server: str) -> None:
    bad = httpx.post(f"{server}/v1/chat/completions", json={"messages": LONG_TEXT, "n": 2}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "n"
    empty = httpx.post(f"{server}/v1/chat/completions", json={"messages": []}, timeout=10)
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages"
    with pytest.raises(openai.BadRequestError):
        client(server).chat.completions.create(model="m", messages=LONG_TEXT, response_format={"type": "json_schema"})


# -- shopguide serve with its supervised model server --------------------------------------------------


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def _local(readyz: dict) -> dict:
    return next(p for p in readyz["providers"] if p["name"] == "local")


def test_serve_starts_a_warm_model_server_and_its_supervisor_restarts_it() -> None:
    port, model_port = free_port(), free_port()
    env = _env(SHOPGUIDE_PROVIDERS="local", SHOPGUIDE_PORT=str(port), SHOPGUIDE_LOCAL_PORT=str(model_port),
               SHOPGUIDE_THREADS="4", SHOPGUIDE_BREAKER_FAILURES="100")
    process = subprocess.Popen([sys.executable, "-m", "service", "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: (r := _get(f"{base}/healthz")) is not None and r.status_code == 200, 300, 0.2)
        local = _local(_get(f"{base}/readyz").json())
        assert local["ready"] and local["supervisor"]["state"] == "ready" and local["supervisor"]["restarts"] == 0
        ask = {"query": "a warm down jacket for minus 20 degree winters", "k": 2}
        first = httpx.post(f"{base}/v1/recommend", json=ask, timeout=90).json()
        assert first["degraded"] is False and first["provider"] == "local"  # the first request after start
        os.kill(local["supervisor"]["pid"], signal.SIGKILL)
        during = httpx.post(f"{base}/v1/recommend", json={**ask, "query": "a rain jacket"}, timeout=90)
        assert during.status_code == 200 and during.json()["degraded"] is True  # no next provider: retrieval
        wait_for(lambda: (s := _local(_get(f"{base}/readyz").json())["supervisor"])["restarts"] == 1
                 and s["state"] == "ready", 240, 0.5)
        again = httpx.post(f"{base}/v1/recommend", json={**ask, "query": "a down jacket for skiing"}, timeout=90)
        assert again.json()["degraded"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    assert _get(f"http://127.0.0.1:{model_port}/healthz") is None  # the child went with it


# -- a model from a directory (SHOPGUIDE_LOCAL_MODEL=/models/<name>: safetensors + tokenizer) ---------------


@pytest.fixture(scope="module")
def small_directory_model(tmp_path_factory: pytest.TempPathFactory):
    """A two-layer model saved as a plain directory from the packaged one: the layout a bigger instruct model has."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from service.provider.local.model_files import DEFAULT_CACHE_DIR, resolve_model_files

    source = resolve_model_files(None, DEFAULT_CACHE_DIR).directory
    model = AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True)
    model.model.layers = model.model.layers[:2]
    model.config.num_hidden_layers = 2
    target = tmp_path_factory.mktemp("models") / "Tiny-2L-Instruct"
    model.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(str(source), local_files_only=True).save_pretrained(str(target))
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    return target


def test_a_directory_model_is_served_and_answers_schema_valid_json(small_directory_model) -> None:
    port = free_port()
    # SHOPGUIDE_LOCAL_THREADS blank (unset): a model this small runs on one thread
    env = _env(SHOPGUIDE_LOCAL_MODEL=str(small_directory_model), SHOPGUIDE_LOCAL_DEVICE="cpu", SHOPGUIDE_LOCAL_THREADS="")
    process = subprocess.Popen([sys.executable, "-m", "service", "local", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _status(url) == 200 or process.poll() is not None, 240, 0.2)
        assert [m.id for m in client(url).models.list().data] == ["Tiny-2L-Instruct"]
        built = build_cases()[0]
        answer = client(url).chat.completions.create(
            model="Tiny-2L-Instruct", messages=list(built.messages), temperature=0, max_tokens=400,
            response_format=response_format(built.grammar_schema),
        )
        data = json.loads(answer.choices[0].message.content)  # two layers write nonsense, but valid nonsense
        jsonschema.validate(data, built.grammar_schema)
        assert health(url)["device"] == "cpu" and health(url)["dtype"] == "float32"
        # the defaults on a CPU: SHOPGUIDE_LOCAL_QUANTIZE=auto is int8, a small model gets one thread
        assert health(url)["quantize"] == "int8" and health(url)["threads"] == 1
    finally:
        process.terminate()
        process.wait(20)
