"""The lone-request decode loop (``BatchGenerator._decode_one``): forced tokens appended in one forward pass.

Checked against transformers' ``generate`` on a tiny random Llama (no download, milliseconds a step): the same
tokens where nothing is forced, the same tokens where the grammar forces some, in fewer forward passes; the
budget, stop tokens, stop strings and streamed text as ``generate``'s path has them.
"""

from __future__ import annotations

import functools
import time

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from service.errors import InvalidOutput
from service.output.schema import recommend_grammar_schema, without_unique_items
from service.provider.base import ChatRequest
from service.provider.local.constrain import (
    DistinctIds,
    GrammarLogitsProcessor,
    allowed_tokens,
    distinct_id_choices,
)
from service.provider.local.generate import BatchGenerator, Generation, RowHooks
from service.provider.local.loader import LoadedModel

VOCAB = 48
STOP = 0  # the end-of-turn token
FIRST = 33  # token i is chr(i + FIRST - 1) for i >= 1: "!" .. "O"


class CharTokenizer:
    """One token a character; token 0 is the stop token (skipped when decoding)."""

    def __call__(self, texts: list[str], return_tensors: str = "pt", padding: bool = False, add_special_tokens: bool = False):
        ids = torch.tensor([[ord(c) - FIRST + 1 for c in text] for text in texts], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def decode(self, tokens: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(t + FIRST - 1) for t in tokens if t != STOP)


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, bos_token_id=1, eos_token_id=STOP, pad_token_id=STOP,
    )
    model = LlamaForCausalLM(config).eval()
    return LoadedModel(
        model=model, tokenizer=CharTokenizer(), files=None, device=torch.device("cpu"), dtype=torch.float32,
        stop_token_ids=(STOP,), pad_token_id=STOP, vocab_size=VOCAB, load_s=0.0,
    )


class Script:
    """A grammar that allows any token except the stop token where the script says ``None``, and exactly the
    scripted token elsewhere; after the script, only the stop token. ``forced()`` says what llguidance's
    fast-forward tokens would: the scripted tokens from here up to the next free place."""

    def __init__(self, script: list[int | None], *, forcing: bool = True) -> None:
        self.script = script
        self.position = 0
        self.terminated = False
        self.forcing = forcing
        self.forced_calls = 0

    def _expected(self) -> int | None:
        return self.script[self.position] if self.position < len(self.script) else STOP

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        expected = self._expected()
        if expected is None:
            bitmask[row].fill_(-1)
            bitmask[row, 0] &= ~1  # anything but the stop token
            return
        bitmask[row].zero_()
        word = 1 << (expected % 32)
        bitmask[row, expected // 32] = word - 2**32 if word >= 2**31 else word

    def accept(self, token: int) -> bool:
        expected = self._expected()
        if expected is not None and token != expected:
            return False
        if expected is None and token == STOP:
            return False
        self.position += 1
        if token == STOP:
            self.terminated = True
        return True

    def forced(self) -> list[int]:
        self.forced_calls += 1
        if not self.forcing:
            return []
        out = []
        for token in self.script[self.position:]:
            if token is None:
                break
            out.append(token)
        return out


def request(max_tokens: int = 40) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": "x"},), schema_name="t", schema={}, temperature=0.0,
        max_tokens=max_tokens, deadline=time.monotonic() + 60,
    )


def run(loaded: LoadedModel, path: str, matcher=None, *, max_tokens: int = 40, hooks=None, prompt: str = "ABCDEFG"):
    generator = BatchGenerator(loaded, None, max_new_tokens=200, max_string_chars=100)
    call = generator._decode_one if path == "one" else generator._generate
    (result,) = call([request(max_tokens)], [prompt], [matcher], hooks)
    return result, generator


class CountingForward:
    """Counts the model's forward passes and the tokens each was fed."""

    def __init__(self, model) -> None:
        self.model = model
        self.fed: list[int] = []
        self._original = model.forward

    def __enter__(self):
        @functools.wraps(self._original)  # the same signature: the loop reads it
        def forward(*args, **kwargs):
            ids = kwargs.get("input_ids")
            self.fed.append(int(ids.shape[1]) if ids is not None else -1)
            return self._original(*args, **kwargs)

        self.model.forward = forward
        return self

    def __exit__(self, *exc) -> None:
        self.model.forward = self._original


def test_with_nothing_forced_it_generates_what_generate_does(loaded):
    ours, generator = run(loaded, "one", max_tokens=25)
    theirs, _ = run(loaded, "generate", max_tokens=25)
    assert isinstance(ours, Generation) and isinstance(theirs, Generation)
    assert ours.text == theirs.text and len(ours.text) > 0
    assert ours.tokens_out == theirs.tokens_out
    assert generator.steps == ours.tokens_out  # one forward pass a token: nothing was forced


def test_forced_tokens_come_in_one_pass_and_the_answer_is_the_same(loaded):
    tokens = [10, 11, 12, None, None, 13, 14, 15, 16, None, 17, 18]  # 9 forced, 3 the model's
    ours_matcher, their_matcher = Script(tokens), Script(tokens, forcing=False)
    with CountingForward(loaded.model) as counting:
        ours, generator = run(loaded, "one", ours_matcher)
    theirs, their_generator = run(loaded, "generate", their_matcher)
    assert isinstance(ours, Generation) and ours.finish == "stop"
    assert ours.text == theirs.text  # same tokens: forcing changes the passes, not the answer
    assert ours.tokens_out == theirs.tokens_out == len(tokens) + 1  # and the stop token
    assert ours_matcher.terminated  # (generate ends a row at its stop token without showing it to the grammar)
    # the prompt with the forced opening (10 11 12); then a pass for each free place, each with what is forced
    # after it: [free], [free 13 14 15 16], [free 17 18]; the stop token is chosen from the last pass's logits
    assert counting.fed == [len("ABCDEFG") + 3, 1, 5, 3]
    assert generator.steps == 4 < their_generator.steps == len(tokens) + 1


def test_a_prompt_sharing_the_previous_ones_start_reads_only_the_rest_and_answers_the_same(loaded):
    shared = "ABCDEFGHIJKLMNO" * 2  # 30 tokens, over MIN_SHARED_PREFIX (the tokenizer knows "!" to "O")
    cold = BatchGenerator(loaded, None, max_new_tokens=200, max_string_chars=100)  # the default: off
    warm = BatchGenerator(loaded, None, max_new_tokens=200, max_string_chars=100, prefix_cache=True)
    for prompt in (shared + "ABC", shared + "DEFG", "ONML" + shared):
        (expected,) = cold._decode_one([request(20)], [prompt], [None])
        with CountingForward(loaded.model) as counting:
            (got,) = warm._decode_one([request(20)], [prompt], [None])
        assert got.text == expected.text and got.tokens_out == expected.tokens_out
        reused = len(shared) if prompt.endswith("DEFG") else 0  # the first has no previous; the last shares nothing
        assert counting.fed[0] == len(prompt) - reused  # the prompt's pass read only what was not cached
    assert warm.stats()["prefix_tokens_reused"] == len(shared) and cold.stats()["prefix_tokens_reused"] == 0


def test_the_budget_cuts_forced_tokens_too(loaded):
    matcher = Script([None] + [20] * 30)
    result, _ = run(loaded, "one", matcher, max_tokens=7)
    assert isinstance(result, InvalidOutput) and "7-token budget" in str(result)  # constrained, unfinished
    unconstrained, _ = run(loaded, "one", None, max_tokens=7)
    assert isinstance(unconstrained, Generation) and unconstrained.tokens_out == 7 and unconstrained.finish == "length"


def test_streamed_text_and_stop_strings_hold_across_multi_token_passes(loaded):
    script = [10, 11, 12, None, 13, 14, 15, 16, 17, None, 18]
    text = CharTokenizer().decode([t for t in script if t is not None])
    pieces: list[str] = []
    hooks = [RowHooks(on_text=pieces.append)]
    full, _ = run(loaded, "one", Script(script), hooks=hooks)
    assert isinstance(full, Generation) and "".join(pieces) == full.text
    assert full.text.startswith(text[:3]) and len(pieces) >= 3  # streamed as it went, not at the end
    stop = CharTokenizer().decode([14, 15])  # inside a run of forced tokens
    pieces.clear()
    cut, _ = run(loaded, "one", Script(script), hooks=[RowHooks(on_text=pieces.append, stop=(stop,))])
    assert isinstance(cut, Generation) and cut.finish == "stop"
    assert stop not in cut.text and "".join(pieces) == cut.text and cut.text.endswith(CharTokenizer().decode([13]))


def test_a_cancelled_row_stops_at_the_next_pass(loaded):
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    result, generator = run(loaded, "one", None, max_tokens=40, hooks=[RowHooks(cancelled=cancelled)])
    assert generator.steps == 3 and "went away" in str(result)


def test_the_processor_follows_each_forced_token_once(loaded):
    matcher = Script([5, 6, None, 7])
    processor = GrammarLogitsProcessor([matcher], VOCAB)
    processor.follow(0, 5)
    assert processor.forced(0) == [6]
    processor.follow(0, 6)
    assert processor.forced(0) == [] and matcher.position == 2 and not processor.rejected
    processor.follow(0, 9)  # the free place
    processor.follow(0, 8)  # 7 was due
    assert processor.rejected == {0: 8} and processor.forced(0) == []


# -- distinct picks ------------------------------------------------------------------------------------------

class Pieces:
    """Token i is the i-th piece; the answer's text is the pieces accepted."""

    pieces = ['{"items":[{"id":"', "SG-", "OUT-", "000", "1", "2", "3", '"', '","reason":"', "ok", '"},{"id":"',
              "0001", "0002", '3"']

    def __call__(self, token: int) -> str:
        return self.pieces[token]


class Allow:
    """A grammar stand-in: the tokens it allows next are set by the test."""

    terminated = False

    def __init__(self) -> None:
        self.allowed: list[int] = []

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        bitmask[row].zero_()
        for token in self.allowed:
            bitmask[row, token // 32] |= 1 << (token % 32)

    def accept(self, token: int) -> bool:
        return True

    def forced(self) -> list[int]:
        return []


def allowed_after(matcher, inner: Allow, allowed: list[int]) -> list[int]:
    inner.allowed = allowed
    bitmask = torch.zeros((1, 1), dtype=torch.int32)
    matcher.fill(bitmask, 0)
    return allowed_tokens(bitmask[0])


def test_a_repeated_pick_is_masked_where_another_id_is_allowed():
    inner = Allow()
    matcher = DistinctIds(inner, ["SG-OUT-0001", "SG-OUT-0002", "SG-OUT-0003"], Pieces())
    for token in (0, 1, 2, 3, 4, 8, 9):  # {"items":[{"id":"SG-OUT-0001","reason":"ok
        matcher.accept(token)
    assert allowed_after(matcher, inner, [7, 10]) == [7, 10]  # not inside an id: untouched
    matcher.accept(10)  # "},{"id":"
    matcher.accept(1)
    matcher.accept(2)  # SG-OUT-
    # "0001" would repeat the first pick; "0002" and '000' (then 1, 2 or 3) may not; '3"' closes a new one
    assert allowed_after(matcher, inner, [3, 11, 12, 13]) == [3, 12, 13]
    matcher.accept(3)  # SG-OUT-000
    assert allowed_after(matcher, inner, [4, 5, 6]) == [5, 6] and matcher.banned == 2
    # only the repeat is allowed (the grammar left nothing else): it stays, an answer must end
    assert allowed_after(matcher, inner, [4]) == [4]


def test_distinct_ids_are_read_from_unique_arrays_of_picks_only():
    schema = recommend_grammar_schema(["A-1", "A-2", "B-3"], 2)
    assert distinct_id_choices(schema) == ["A-1", "A-2", "B-3"]
    assert distinct_id_choices(without_unique_items(schema)) is None  # a client that did not ask
    assert distinct_id_choices({"type": "array", "uniqueItems": True, "items": {"type": "string"}}) is None
