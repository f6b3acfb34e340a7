"""The local provider: queue, deadlines and batching with an injected generate function (fast), then the
real SmolLM2-135M on CPU with constrained decoding (slow: loaded once per session)."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import torch

from service.errors import InvalidOutput, ProviderError, ProviderUnavailable
from service.output.schema import RecommendOutput
from service.provider.base import ChatRequest, Provider
from service.provider.local import Generation, LocalProvider
from service.provider.local.constrain import (
    GrammarLogitsProcessor,
    StringTokenCap,
    apply_bitmask,
    cap_string_lengths,
    quote_token_bitmask,
)
from service.provider.local.model_files import (
    MARKER,
    default_gguf,
    display_name,
    ensure_converted,
    model_name_from,
    resolve_model_files,
)
from service.provider.local.provider import Row
from service.settings import load_settings
from tests.support.recommend_cases import build_cases

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def chat(text: str = "hi", *, deadline_s: float = 10.0, temperature: float = 0.0) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": text}),
        schema_name="t",
        schema=SCHEMA,
        deadline=time.monotonic() + deadline_s,
        temperature=temperature,
    )


class GatedModel:
    """A generate function that records each batch and blocks until released (one gate per call)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Semaphore(0)
        self._release = threading.Semaphore(0)
        self.fail_rows: set[str] = set()
        self.raise_exc: BaseException | None = None

    def __call__(self, requests: Sequence[ChatRequest]) -> list[Generation | BaseException]:
        texts = [r.messages[-1]["content"] for r in requests]
        self.batches.append(texts)
        self.started.release()
        assert self._release.acquire(timeout=30), "test never released the fake model"
        if self.raise_exc is not None:
            raise self.raise_exc
        return [
            ProviderError(f"row {t} failed", provider="local") if t in self.fail_rows
            else Generation(text=json.dumps({"answer": t}), tokens_in=10 + i, tokens_out=3)
            for i, t in enumerate(texts)
        ]

    def release(self, n: int = 1) -> None:
        for _ in range(n):
            self._release.release()

    def wait_started(self) -> None:
        assert self.started.acquire(timeout=10), "fake model was never called"


@pytest.fixture
def gated() -> Iterator[tuple[LocalProvider, GatedModel]]:
    model = GatedModel()
    provider = LocalProvider(
        generate_fn=model, max_batch_size=4, max_queue=3, batch_window_s=0.0, min_remaining_s=0.05
    )
    yield provider, model
    model.release(50)
    provider.close()


def in_thread(pool: ThreadPoolExecutor, provider: LocalProvider, request: ChatRequest):
    return pool.submit(provider.complete, request)


def wait_depth(provider: LocalProvider, depth: int) -> None:
    deadline = time.monotonic() + 5
    while provider.queue_depth != depth:
        assert time.monotonic() < deadline, f"queue depth stuck at {provider.queue_depth}, wanted {depth}"
        time.sleep(0.005)


# -- queue, deadlines, batching (no model) ------------------------------------------------------


def test_is_a_provider_and_answers_with_usage(gated):
    provider, model = gated
    assert isinstance(provider, Provider) and provider.name == "local"
    with ThreadPoolExecutor(2) as pool:
        future = in_thread(pool, provider, chat("one"))
        model.wait_started()
        model.release()
        completion = future.result(timeout=5)
    assert json.loads(completion.text) == {"answer": "one"}
    assert (completion.provider, completion.model) == ("local", "injected")
    assert (completion.tokens_in, completion.tokens_out) == (10, 3)
    assert completion.latency_ms > 0


def test_full_queue_fails_fast(gated):
    provider, model = gated
    with ThreadPoolExecutor(6) as pool:
        running = in_thread(pool, provider, chat("running"))
        model.wait_started()
        queued = [in_thread(pool, provider, chat(f"q{i}")) for i in range(3)]
        wait_depth(provider, 3)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="queue full"):
            provider.complete(chat("overflow"))
        assert time.monotonic() - started < 0.5
        assert provider.describe()["queue_depth"] == 3
        model.release(2)
        assert json.loads(running.result(timeout=5).text)["answer"] == "running"
        assert sorted(json.loads(f.result(timeout=5).text)["answer"] for f in queued) == ["q0", "q1", "q2"]
    assert model.batches == [["running"], ["q0", "q1", "q2"]]


def test_deadline_passing_in_the_queue_drops_the_request(gated):
    provider, model = gated
    with ThreadPoolExecutor(3) as pool:
        running = in_thread(pool, provider, chat("running"))
        model.wait_started()
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="deadline passed"):
            provider.complete(chat("late", deadline_s=0.3))
        assert 0.25 < time.monotonic() - started < 2.0
        assert provider.queue_depth == 0
        model.release()
        running.result(timeout=5)
        # The dropped request never reaches the model: the next batch is only the next request.
        after = in_thread(pool, provider, chat("after"))
        model.wait_started()
        model.release()
        after.result(timeout=5)
    assert model.batches == [["running"], ["after"]]


def test_expired_jobs_are_skipped_by_the_worker():
    """A job whose deadline has passed when its batch is formed fails without reaching the model."""
    model = GatedModel()
    provider = LocalProvider(generate_fn=model, max_batch_size=4, max_queue=8, batch_window_s=0.0)
    try:
        batcher = provider._batcher
        with ThreadPoolExecutor(2) as pool:
            running = in_thread(pool, provider, chat("running"))
            model.wait_started()
            stale = batcher.submit(Row(chat("stale")), deadline=time.monotonic() + 0.05, key=0.0)
            fresh = batcher.submit(Row(chat("fresh")), deadline=time.monotonic() + 10, key=0.0)
            time.sleep(0.1)
            model.release(2)
            running.result(timeout=5)
            with pytest.raises(ProviderUnavailable, match="deadline passed"):
                stale.future.result(timeout=5)
            assert json.loads(fresh.future.result(timeout=5).text)["answer"] == "fresh"
        assert model.batches == [["running"], ["fresh"]]
    finally:
        model.release(10)
        provider.close()


def test_waiting_requests_are_generated_as_one_batch_up_to_the_batch_size():
    model = GatedModel()
    provider = LocalProvider(generate_fn=model, max_batch_size=2, max_queue=8, batch_window_s=0.0)
    try:
        with ThreadPoolExecutor(6) as pool:
            first = in_thread(pool, provider, chat("first"))
            model.wait_started()
            rest = []
            for name in ("a", "b", "c"):
                rest.append(in_thread(pool, provider, chat(name)))
                wait_depth(provider, len(rest))
            model.release(3)
            answers = [json.loads(f.result(timeout=5).text)["answer"] for f in [first, *rest]]
        assert answers == ["first", "a", "b", "c"]
        assert model.batches == [["first"], ["a", "b"], ["c"]]
        assert provider.describe()["batches"] == 3
    finally:
        model.release(10)
        provider.close()


def test_batch_window_gathers_concurrent_arrivals():
    model = GatedModel()
    model.release(10)  # no gating: only the window groups them
    provider = LocalProvider(generate_fn=model, max_batch_size=4, max_queue=8, batch_window_s=0.3)
    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [in_thread(pool, provider, chat(f"r{i}")) for i in range(4)]
            for f in futures:
                f.result(timeout=5)
        assert sorted(model.batches[0]) == ["r0", "r1", "r2", "r3"]
    finally:
        provider.close()


def test_requests_sampling_differently_are_not_batched_together(gated):
    provider, model = gated
    with ThreadPoolExecutor(4) as pool:
        running = in_thread(pool, provider, chat("running"))
        model.wait_started()
        hot = in_thread(pool, provider, chat("hot", temperature=0.7))
        wait_depth(provider, 1)
        greedy = in_thread(pool, provider, chat("greedy"))
        wait_depth(provider, 2)
        model.release(3)
        for f in (running, hot, greedy):
            f.result(timeout=5)
    assert model.batches == [["running"], ["hot"], ["greedy"]]


def test_row_errors_stay_in_their_row_and_batch_errors_reach_every_row(gated):
    provider, model = gated
    model.fail_rows = {"bad"}
    with ThreadPoolExecutor(3) as pool:
        running = in_thread(pool, provider, chat("running"))
        model.wait_started()
        bad = in_thread(pool, provider, chat("bad"))
        wait_depth(provider, 1)
        good = in_thread(pool, provider, chat("good"))
        wait_depth(provider, 2)
        model.release(2)
        running.result(timeout=5)
        assert json.loads(good.result(timeout=5).text)["answer"] == "good"
        with pytest.raises(ProviderError, match="row bad failed"):
            bad.result(timeout=5)
        model.raise_exc = RuntimeError("device on fire")
        broken = in_thread(pool, provider, chat("x"))
        model.wait_started()
        model.release()
        with pytest.raises(ProviderError, match="RuntimeError: device on fire"):
            broken.result(timeout=5)
    # the worker survived the exception
    model.raise_exc = None
    with ThreadPoolExecutor(1) as pool:
        after = in_thread(pool, provider, chat("after"))
        model.wait_started()
        model.release()
        assert json.loads(after.result(timeout=5).text)["answer"] == "after"


def test_too_short_a_deadline_is_refused_without_queueing(gated):
    provider, model = gated
    with pytest.raises(ProviderUnavailable, match="deadline too short"):
        provider.complete(chat(deadline_s=0.01))
    assert model.batches == []


def test_close_fails_waiting_requests(gated):
    provider, model = gated
    with ThreadPoolExecutor(3) as pool:
        running = in_thread(pool, provider, chat("running"))
        model.wait_started()
        queued = in_thread(pool, provider, chat("queued"))
        wait_depth(provider, 1)
        closer = pool.submit(provider.close)
        with pytest.raises(ProviderUnavailable, match="shut down"):
            queued.result(timeout=5)
        model.release()
        running.result(timeout=5)
        closer.result(timeout=10)
    with pytest.raises(ProviderUnavailable, match="closed"):
        provider.complete(chat())


def test_queue_depth_is_reported_to_the_metrics_callback():
    depths: list[int] = []
    model = GatedModel()
    provider = LocalProvider(generate_fn=model, max_batch_size=4, max_queue=4, on_queue_depth=depths.append)
    try:
        with ThreadPoolExecutor(3) as pool:
            running = in_thread(pool, provider, chat("running"))
            model.wait_started()
            queued = in_thread(pool, provider, chat("queued"))
            wait_depth(provider, 1)
            model.release(2)
            running.result(timeout=5)
            queued.result(timeout=5)
        assert 1 in depths and depths[-1] == 0
    finally:
        model.release(10)
        provider.close()


def test_a_model_that_cannot_load_is_unavailable_and_not_retried_at_once(tmp_path):
    provider = LocalProvider(tmp_path / "missing.gguf", cache_dir=tmp_path / "cache", load_retry_s=60)
    try:
        with pytest.raises(ProviderUnavailable, match="not found"):
            provider.complete(chat())
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="failed to load"):
            provider.complete(chat())
        assert time.monotonic() - started < 0.1
        info = provider.describe()
        assert info["loaded"] is False and info["ready"] is False and "not found" in info["last_error"]
        with pytest.raises(ProviderUnavailable):
            provider.warm_up()
    finally:
        provider.close()


def wait_for(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_local_fallback_starts_loading_in_the_background_at_start_up(make_app, tmp_path):
    """Defect #6: with a hosted primary, the local model waited for the first fallback to load, inside its deadline."""
    not_a_model = tmp_path / "model"
    not_a_model.mkdir()  # loading fails at once: what is tested is that start-up tried, off the request path
    app = make_app(providers="openai,local", local_model=str(not_a_model))
    local = app.extensions["shopguide"].chain.providers[1]
    wait_for(lambda: local.describe()["last_error"] is not None)
    assert "no config.json" in local.describe()["last_error"]


def test_local_preload_off_loads_on_first_use(make_app, tmp_path):
    not_a_model = tmp_path / "model"
    not_a_model.mkdir()
    app = make_app(providers="openai,local", local_model=str(not_a_model), local_preload=False)
    local = app.extensions["shopguide"].chain.providers[1]
    time.sleep(0.3)
    assert local.describe()["last_error"] is None and local.describe()["loaded"] is False


def test_the_local_provider_wants_compact_prompts_and_says_which_form_it_answered(gated):
    provider, model = gated
    model.release(2)
    assert provider.prompt_style == "compact"
    assert provider.complete(chat("full")).prompt_style == "full"  # a request without a compact form
    compacted = provider.complete(dataclasses.replace(chat("full"), compact=lambda: chat("compact")))
    assert compacted.prompt_style == "compact" and model.batches[-1] == ["compact"]


def test_from_settings_reads_the_local_settings(tmp_path):
    settings = load_settings(
        local_batch_size=3,
        local_queue_size=5,
        local_max_new_tokens=100,
        local_cache_dir=str(tmp_path),
        local_device="cpu",
        local_grammar="xgrammar",
    )
    provider = LocalProvider.from_settings(settings)
    try:
        info = provider.describe()
        assert (info["max_batch_size"], info["queue_size"], info["max_new_tokens"]) == (3, 5, 100)
        assert (info["device"], info["grammar"], info["loaded"]) == ("cpu", "xgrammar", False)
        assert info["model"] == "SmolLM2-135M-Instruct" and provider.queue_depth == 0
    finally:
        provider.close()


# -- model files ------------------------------------------------------------------------------------


def test_model_names_drop_the_quantization_suffix(tmp_path):
    assert model_name_from(Path("SmolLM2-135M-Instruct.Q4_1.gguf")) == "SmolLM2-135M-Instruct"
    assert model_name_from(Path("qwen2.5-0.5b-instruct-q4_k_m.gguf")) == "qwen2.5-0.5b-instruct"
    assert model_name_from(Path("models/my-model")) == "my-model"
    assert default_gguf().name.endswith(".gguf")
    assert display_name(None) == "SmolLM2-135M-Instruct"


def test_paths_that_are_not_models_are_unavailable(tmp_path):
    with pytest.raises(ProviderUnavailable, match="not found"):
        resolve_model_files(tmp_path / "nope")
    with pytest.raises(ProviderUnavailable, match="config.json"):
        resolve_model_files(tmp_path)


def _fake_convert(gguf: Path, target: Path) -> None:
    """Stands in for the 20 s dequantization: slow enough for processes to overlap, and counted."""
    with open(gguf.parent / "calls.log", "a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(0.5)
    (target / "config.json").write_text("{}")


def _convert_in_child(gguf: str, cache: str, out: multiprocessing.Queue) -> None:
    out.put(str(ensure_converted(Path(gguf), Path(cache), convert=_fake_convert)))


def test_gguf_is_converted_once_across_processes_and_published_atomically(tmp_path):
    gguf = tmp_path / "Tiny-Model.Q8_0.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(1000))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "leftover").mkdir()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    children = [ctx.Process(target=_convert_in_child, args=(str(gguf), str(cache), out)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    targets = {out.get(timeout=5) for _ in children}
    assert len(targets) == 1
    target = Path(targets.pop())
    assert (tmp_path / "calls.log").read_text().count("\n") == 1  # one conversion, the others reused it
    assert (target / "config.json").is_file() and json.loads((target / MARKER).read_text())["name"] == "Tiny-Model"
    assert not list(cache.glob(".*-*"))  # no staging directory left behind
    files = resolve_model_files(gguf, cache, convert=_fake_convert)
    assert (files.directory, files.name, files.source) == (target, "Tiny-Model", gguf)


def test_a_failed_conversion_publishes_nothing(tmp_path):
    gguf = tmp_path / "Broken.gguf"
    gguf.write_bytes(b"not really gguf")

    def explode(source: Path, target: Path) -> None:
        (target / "half-written").write_text("x")
        raise ValueError("corrupt file")

    with pytest.raises(ProviderUnavailable, match="corrupt file"):
        ensure_converted(gguf, tmp_path / "cache", convert=explode)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


# -- grammar plumbing without a model ---------------------------------------------------------------


def test_free_strings_get_a_length_cap_and_constrained_ones_keep_theirs():
    schema = {
        "$defs": {"Pick": {"type": "object", "properties": {
            "id": {"type": "string", "enum": ["a", "b"]},
            "reason": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "short": {"type": "string", "maxLength": 5},
        }}},
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Pick"}}, "n": {"type": "integer"}},
    }
    capped = cap_string_lengths(schema, 50)
    pick = capped["$defs"]["Pick"]["properties"]
    assert pick["reason"]["maxLength"] == 50 and pick["note"]["maxLength"] == 50
    assert "maxLength" not in pick["id"] and pick["short"]["maxLength"] == 5
    assert "maxLength" not in capped["properties"]["n"]
    assert "maxLength" not in schema["$defs"]["Pick"]["properties"]["reason"]  # the input is not modified


def test_apply_bitmask_matches_a_per_token_reference():
    generator = torch.Generator().manual_seed(0)
    vocab = 100
    bitmask = torch.randint(-(2**31), 2**31 - 1, (3, 4), dtype=torch.int32, generator=generator)
    scores = torch.randn(3, vocab, generator=generator)
    expected = scores.clone()
    for row in range(3):
        for token in range(vocab):
            if not (int(bitmask[row, token // 32]) >> (token % 32)) & 1:
                expected[row, token] = float("-inf")
    apply_bitmask(scores, bitmask)
    assert torch.equal(scores, expected)


class _ScriptedMatcher:
    """Allows exactly the next token of a script, then only the stop token (id 0)."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.position = 0
        self.terminated = False

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        allowed = self.script[self.position] if self.position < len(self.script) else 0
        bitmask[row].zero_()
        bitmask[row, allowed // 32] = 1 << (allowed % 32)

    def accept(self, token: int) -> bool:
        expected = self.script[self.position] if self.position < len(self.script) else 0
        if token != expected:
            return False
        if token == 0:
            self.terminated = True
        self.position += 1
        return True


def test_each_row_follows_its_own_matcher_and_unconstrained_rows_are_untouched():
    rows = [_ScriptedMatcher([5, 7]), None, _ScriptedMatcher([9])]
    processor = GrammarLogitsProcessor(rows, vocab_size=40)
    ids = torch.zeros(3, 2, dtype=torch.long)
    for step, expected in enumerate([(5, 9), (7, 0), (0, 0)]):
        scores = torch.zeros(3, 40)
        out = processor(ids, scores)
        assert int(out[0].argmax()) == expected[0] and int(out[2].argmax()) == expected[1]
        assert torch.isfinite(out[1]).all()  # the unconstrained row
        assert torch.isinf(out[0]).sum() == 39
        ids = torch.cat([ids, torch.tensor([[expected[0]], [3], [expected[1]]])], dim=1)
    assert not processor.rejected


class _FakeTokenizer:
    pieces = ['{"', "abc", '"', "Ġ\"", '\\"', '",', "x" * 3]

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self.pieces[i] for i in ids]

    def __len__(self) -> int:
        return len(self.pieces)


def test_string_token_cap_forces_a_closing_quote_after_too_many_quoteless_tokens():
    bitmask, quote_ids = quote_token_bitmask(_FakeTokenizer(), vocab_size=40)
    assert quote_ids == {0, 2, 3, 5}  # '\\"' is an escape, it does not close a string
    cap = StringTokenCap(max_tokens=2, quote_bitmask=bitmask, quote_ids=quote_ids)

    class Free:  # inside a string: every token allowed
        terminated = False

        def fill(self, bm: torch.Tensor, row: int) -> None:
            bm[row].fill_(-1)

        def accept(self, token: int) -> bool:
            return True

    processor = GrammarLogitsProcessor([Free()], vocab_size=40, string_cap=cap)
    ids = torch.tensor([[0]])
    allowed_counts = []
    for token in (1, 6, 6):
        scores = torch.zeros(1, 40)
        allowed_counts.append(int(torch.isfinite(processor(ids, scores)).sum()))
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert allowed_counts == [40, 40, 4]  # after two quoteless tokens only {0, 2, 3, 5} remain
    assert processor.capped == {0}


# -- the real model (slow) -------------------------------------------------------------------------------

REASON_CHARS = 100


@pytest.fixture(scope="session")
def smollm() -> Iterator[LocalProvider]:
    """SmolLM2-135M on CPU, converted once into the shared cache and loaded once per session.

    One torch thread unless SHOPGUIDE_LOCAL_THREADS says otherwise: on a 2-core box shared with
    other processes, two spinning OpenMP threads ran ~3x slower than one.
    """
    threads_before = torch.get_num_threads()
    provider = LocalProvider(
        None,
        device="cpu",
        cache_dir=Path(os.environ.get("SHOPGUIDE_LOCAL_CACHE_DIR", Path.home() / ".cache/shopguide/models")),
        max_batch_size=6,
        max_queue=16,
        max_new_tokens=300,
        max_string_tokens=32,
        batch_window_s=0.2,
        num_threads=int(os.environ.get("SHOPGUIDE_LOCAL_THREADS") or 1),
    )
    provider.warm_up()
    yield provider
    provider.close()
    torch.set_num_threads(threads_before)


@pytest.fixture(scope="session")
def cases():
    return build_cases(reason_max_chars=REASON_CHARS)  # no summary, as the pipeline asks a local model


def assert_valid_answer(text: str, built) -> RecommendOutput:
    data = json.loads(text)
    jsonschema.validate(data, built.grammar_schema)
    output = RecommendOutput.model_validate(data)
    ids = [item.id for item in output.items]
    assert len(ids) == built.case.k
    assert set(ids) <= set(built.candidate_ids), (built.case.query, ids)
    assert len(set(ids)) == len(ids), (built.case.query, ids)  # distinct picks (constrain.DistinctIds)
    assert all(item.reason.strip() for item in output.items), text
    assert all(len(item.reason) <= REASON_CHARS for item in output.items)
    return output


@pytest.mark.slow
def test_real_model_answers_one_request_at_a_time(smollm, cases):
    for built in (cases[0], cases[6]):  # one English, one Chinese
        completion = smollm.complete(built.request())
        assert_valid_answer(completion.text, built)
        assert completion.model == "SmolLM2-135M-Instruct" and completion.provider == "local"
        assert completion.tokens_in > 200 and 20 < completion.tokens_out <= 300
    info = smollm.describe()
    assert info["loaded"] and info["device"] == "cpu" and info["dtype"] == "float32"


@pytest.mark.slow
def test_real_model_batched_concurrent_requests_are_each_valid_for_their_own_candidates(smollm, cases):
    """All cases at once: rows of one batch carry different candidate enums, each row must honour its own."""
    assert len(cases) >= 10 and {c.case.language for c in cases} == {"en", "zh"}
    batches_before = smollm.describe()["batches"]
    with ThreadPoolExecutor(len(cases)) as pool:
        futures = [pool.submit(smollm.complete, built.request()) for built in cases]
        completions = [f.result(timeout=900) for f in futures]
    for built, completion in zip(cases, completions, strict=True):
        assert_valid_answer(completion.text, built)
    batches = smollm.describe()["batches"] - batches_before
    assert batches < len(cases)  # several requests shared a generate call


@pytest.mark.slow
def test_real_model_budget_too_small_is_invalid_output_not_broken_json(smollm, cases):
    with pytest.raises(InvalidOutput, match="budget"):
        smollm.complete(cases[1].request(max_tokens=12))
