"""Run one batch of chat requests through the loaded model: chat template, left padding, per-row grammars."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from service.errors import (
    InvalidOutput,
    ProviderError,
    ProviderUnavailable,
    UpstreamTimeout,
)
from service.provider.base import ChatRequest
from service.provider.local.constrain import (
    DistinctIds,
    GrammarError,
    GrammarLogitsProcessor,
    Grammars,
    RowLimits,
    RowMatcher,
    StringTokenCap,
    cap_string_lengths,
    distinct_id_choices,
    quote_token_bitmask,
)
from service.provider.local.loader import LoadedModel
from service.provider.local.model_files import PROVIDER

Finish = Literal["stop", "length", "deadline", "cancelled"]
MIN_SHARED_PREFIX = 16  # tokens a prompt must share with the previous one for its cache to be reused


def _cache_argument(model: Any) -> str:
    """``cache`` in newer transformers 5 releases, ``past_key_values`` (deprecated there) before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@dataclass(frozen=True)
class Generation:
    """One row's answer."""

    text: str
    tokens_in: int
    tokens_out: int
    finish: Finish = "stop"


@dataclass(frozen=True)
class RowHooks:
    """What a caller of the model server adds to one row: streamed text, a cancel flag, stop strings."""

    on_text: Callable[[str], None] | None = None  # each new piece of the answer's text, in order
    cancelled: Callable[[], bool] | None = None  # true once nobody waits for this row (client gone)
    stop: tuple[str, ...] = ()  # the answer ends before the first of these strings


class RowStream(StoppingCriteria):
    """Follows each row's text as it is generated: streams it, ends it at a stop string, drops a cancelled row.

    Called after every decoding step with the whole batch. Text that might be the
    start of a stop string, or an incomplete UTF-8 character, is held back until
    the next tokens decide it.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompt_width: int,
        hooks: Sequence[RowHooks | None],
        stop_ids: frozenset[int],
        limits: RowLimits,
    ) -> None:
        self._tokenizer = tokenizer
        self._width = prompt_width
        self._hooks = list(hooks)
        self._stop_ids = stop_ids
        self._limits = limits
        self._tokens: list[list[int]] = [[] for _ in self._hooks]
        self.emitted = [0] * len(self._hooks)  # characters handed to on_text so far
        self.ended: set[int] = set()  # end of turn, a stop string, a cancel or a limit: nothing more to follow
        self.stop_at: dict[int, int] = {}  # row -> character offset of its first stop string
        self.cancelled: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        last = input_ids[:, -1].tolist()
        done = [self.follow(row, [int(last[row])]) for row in range(len(self._hooks))]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def follow(self, row: int, tokens: Sequence[int]) -> bool:
        """Follow the tokens just appended to ``row`` (one, or several a forward pass took at once); True once
        the row has ended."""
        if row not in self.ended:
            stopped = row in self._limits.stopped  # budget or deadline: its last tokens still count
            for token in tokens:
                self._follow(row, self._hooks[row], token)
                if row in self.ended:
                    break
            if stopped:
                self.ended.add(row)
        return row in self.ended

    def _follow(self, row: int, hooks: RowHooks | None, token: int) -> None:
        if hooks is None:
            return
        if hooks.cancelled is not None and hooks.cancelled():
            self.cancelled.add(row)
            self._end(row)
            return
        if token in self._stop_ids:
            self._end(row)
            return
        self._tokens[row].append(token)
        if hooks.on_text is None and not hooks.stop:
            return
        text = self._tokenizer.decode(self._tokens[row], skip_special_tokens=True)
        hold = 0
        for stop in hooks.stop:
            found = text.find(stop)
            if found >= 0:
                self.stop_at[row] = min(self.stop_at.get(row, found), found)
        if row in self.stop_at:
            self._emit(row, hooks, text[: self.stop_at[row]])
            self._end(row)
            return
        for stop in hooks.stop:  # the text's end may be the start of a stop string
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        if text.endswith("\ufffd"):  # a character split across tokens
            hold = max(hold, len(text) - len(text.rstrip("\ufffd")))
        self._emit(row, hooks, text[: len(text) - hold])

    def _emit(self, row: int, hooks: RowHooks, text: str) -> None:
        if hooks.on_text is not None and len(text) > self.emitted[row]:
            hooks.on_text(text[self.emitted[row]:])
            self.emitted[row] = len(text)

    def _end(self, row: int) -> None:
        self.ended.add(row)
        self._limits.stopped.add(row)  # the grammar stops following the row too

    def finish(self, row: int, text: str) -> str:
        """The row's final text (cut at its stop string), with what was not yet streamed sent now."""
        if row in self.stop_at:
            text = text[: self.stop_at[row]]
        hooks = self._hooks[row]
        if hooks is not None and row not in self.cancelled:
            self._emit(row, hooks, text)
        return text


class BatchGenerator:
    """Answers a batch of :class:`ChatRequest` with one ``generate`` call. Not thread-safe: one worker owns it."""

    def __init__(
        self,
        loaded: LoadedModel,
        grammars: Grammars | None,
        *,
        max_new_tokens: int,
        max_string_chars: int,
        max_string_tokens: int | None = None,
        fast_forward: bool = True,
        prefix_cache: bool = False,
    ) -> None:
        self._loaded = loaded
        self._fast_forward = fast_forward
        self._prefix_cache = prefix_cache
        self._prefix: tuple[list[int], list[tuple[torch.Tensor, torch.Tensor]]] | None = None
        self.prefix_tokens_reused = 0  # prompt tokens whose keys and values came from the previous lone prompt
        self._grammars = grammars
        self._max_new_tokens = max_new_tokens
        self._max_string_chars = max_string_chars
        self.steps = 0  # decoding steps run (one forward pass of the batch each)
        self.grammar_s = 0.0  # of which spent computing and applying token masks
        self.tokens_out = 0
        self._string_cap: StringTokenCap | None = None
        self._pieces: dict[int, str] = {}  # token -> its text, for DistinctIds
        if grammars is not None and max_string_tokens:
            bitmask, ids = quote_token_bitmask(loaded.tokenizer, loaded.vocab_size)
            self._string_cap = StringTokenCap(max_string_tokens, bitmask, ids)

    def __call__(
        self, requests: Sequence[ChatRequest], hooks: Sequence[RowHooks | None] | None = None
    ) -> list[Generation | ProviderError]:
        """One result per request, in order: a :class:`Generation` or the error for that row.

        ``hooks`` (the model server's) stream each row's text, cancel it, or end it at stop strings.

        :raises ProviderError: when the batch as a whole fails (the model raised).
        """
        results: list[Generation | ProviderError | None] = [None] * len(requests)
        rows: list[int] = []
        prompts: list[str] = []
        matchers: list[RowMatcher | None] = []
        for index, request in enumerate(requests):
            try:
                prompt = self._prompt(request)
                matcher = self._matcher(request)
            except ProviderError as exc:
                results[index] = exc
                continue
            rows.append(index)
            prompts.append(prompt)
            matchers.append(matcher)
        if rows:
            row_hooks = [hooks[i] for i in rows] if hooks is not None else None
            run = self._decode_one if len(rows) == 1 and self._fast_forward else self._generate
            generated = run([requests[i] for i in rows], prompts, matchers, row_hooks)
            for index, result in zip(rows, generated, strict=True):
                results[index] = result
        return [r if r is not None else ProviderError("no result", provider=PROVIDER) for r in results]

    def stats(self) -> dict[str, float | int]:
        """Totals since load: decoding steps, generated tokens, and the masking cost per step."""
        per_step = 1000 * self.grammar_s / self.steps if self.steps else 0.0
        return {"steps": self.steps, "tokens_out": self.tokens_out, "grammar_ms_per_step": round(per_step, 3),
                "prefix_tokens_reused": self.prefix_tokens_reused}

    def _prompt(self, request: ChatRequest) -> str:
        try:
            return self._loaded.tokenizer.apply_chat_template(
                list(request.messages), add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # jinja errors from the model's own template
            raise ProviderError(f"chat template failed: {exc}", provider=PROVIDER) from exc

    def _matcher(self, request: ChatRequest) -> RowMatcher | None:
        if self._grammars is None:
            return None
        schema = request.grammar_schema if request.grammar_schema is not None else request.schema
        if not schema:  # no schema at all (the model server's free-text requests): unconstrained
            return None
        try:
            matcher = self._grammars.matcher(cap_string_lengths(schema, self._max_string_chars))
        except GrammarError as exc:
            raise ProviderError(f"cannot build a grammar from the output schema: {exc}", provider=PROVIDER) from exc
        ids = distinct_id_choices(schema)
        return DistinctIds(matcher, ids, self._piece) if ids else matcher

    def _piece(self, token: int) -> str:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self._loaded.tokenizer.decode([token], skip_special_tokens=True)
        return piece

    def _generate(
        self,
        requests: Sequence[ChatRequest],
        prompts: list[str],
        matchers: list[RowMatcher | None],
        hooks: Sequence[RowHooks | None] | None = None,
    ) -> list[Generation | ProviderError]:
        loaded = self._loaded
        tokenizer = loaded.tokenizer
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        input_ids = encoded["input_ids"].to(loaded.device)
        attention_mask = encoded["attention_mask"].to(loaded.device)
        width = input_ids.shape[1]
        budgets = [max(1, min(r.max_tokens, self._max_new_tokens)) for r in requests]
        limits = RowLimits(width, budgets, [r.deadline for r in requests])
        processor = GrammarLogitsProcessor(matchers, loaded.vocab_size, limits, self._string_cap)
        criteria: list[StoppingCriteria] = [limits]
        stream = None
        if hooks is not None and any(h is not None for h in hooks):
            stream = RowStream(tokenizer, width, hooks, frozenset(loaded.stop_token_ids), limits)
            criteria.append(stream)
        # One batch shares one sampling setting; the batcher groups requests by temperature.
        temperature = requests[0].temperature
        config = GenerationConfig(
            max_new_tokens=max(budgets),
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None,
            top_k=None,
            top_p=None,
            eos_token_id=list(loaded.stop_token_ids),
            pad_token_id=loaded.pad_token_id,
        )
        try:
            with torch.inference_mode():
                output = loaded.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    generation_config=config,
                    logits_processor=LogitsProcessorList([processor]),
                    stopping_criteria=StoppingCriteriaList(criteria),
                )
        except Exception as exc:
            raise ProviderError(f"local generation failed: {type(exc).__name__}: {exc}", provider=PROVIDER) from exc
        finally:
            self.steps += processor.steps
            self.grammar_s += processor.seconds
        prompt_tokens = attention_mask.sum(dim=1).tolist()
        return [
            self._finish_row(row, output[row, width:].tolist(), int(prompt_tokens[row]), limits, stream, processor,
                             matchers, served=hooks is not None and hooks[row] is not None)
            for row in range(len(requests))
        ]

    def _finish_row(
        self,
        row: int,
        tokens: list[int],
        tokens_in: int,
        limits: RowLimits,
        stream: RowStream | None,
        processor: GrammarLogitsProcessor,
        matchers: list[RowMatcher | None],
        *,
        served: bool,
    ) -> Generation | ProviderError:
        """One row's result from its generated tokens (``served``: the model server reports "length" itself)."""
        stop_ids = self._loaded.stop_token_ids
        end = next((i for i, t in enumerate(tokens) if t in stop_ids), None)
        body = tokens if end is None else tokens[:end]
        text = self._loaded.tokenizer.decode(body, skip_special_tokens=True)
        finish: Finish = "stop" if end is not None else ("deadline" if row in limits.expired else "length")
        if stream is not None:
            if row in stream.cancelled:
                finish = "cancelled"
            elif row in stream.stop_at:
                finish = "stop"
            text = stream.finish(row, text)
        used = len(body) + (1 if end is not None else 0)
        self.tokens_out += used
        return self._row_result(row, text, tokens_in, used, finish, processor, matchers, served)

    def _decode_one(
        self,
        requests: Sequence[ChatRequest],
        prompts: list[str],
        matchers: list[RowMatcher | None],
        hooks: Sequence[RowHooks | None] | None = None,
    ) -> list[Generation | ProviderError]:
        """One request, decoded by our own loop: what the grammar forces is appended without asking the model.

        ``generate`` runs one forward pass per token even where the grammar allows a single token
        (``{"items":[{"id":"``, ``","reason":"``, the rest of an id once it is unambiguous: about a third of a
        compact answer). Here each forward pass takes the sampled token plus every token the grammar forces
        after it (llguidance's fast-forward tokens); on a memory-bound CPU a pass over a few tokens costs
        little more than over one. Same masks, budget, deadline, string cap and streaming as ``_generate``.
        """
        (request,), (matcher,) = requests, matchers
        loaded = self._loaded
        tokenizer = loaded.tokenizer
        input_ids = tokenizer(prompts, return_tensors="pt", add_special_tokens=False)["input_ids"].to(loaded.device)
        width = input_ids.shape[1]
        budget = max(1, min(request.max_tokens, self._max_new_tokens))
        limits = RowLimits(width, [budget], [request.deadline])
        processor = GrammarLogitsProcessor([matcher], loaded.vocab_size, limits, self._string_cap)
        row_hooks = hooks[0] if hooks is not None else None
        stream = RowStream(tokenizer, width, [row_hooks], frozenset(loaded.stop_token_ids), limits) if row_hooks else None
        stop_ids = frozenset(loaded.stop_token_ids)
        temperature = request.temperature
        prompt_ids = input_ids[0].tolist()
        kv, start = self._cache_for(prompt_ids)
        cache = {_cache_argument(loaded.model): kv}
        tokens: list[int] = []
        feed = input_ids[:, start:]
        try:
            with torch.inference_mode():
                opening = processor.forced(0)[: budget - 1]  # the answer's forced start rides on the prompt's pass
                if opening:
                    for forced in opening:
                        processor.follow(0, forced)
                    tokens += opening
                    if stream is not None:
                        stream.follow(0, opening)
                    forced = torch.tensor([opening], dtype=input_ids.dtype, device=loaded.device)
                    feed = torch.cat([feed, forced], 1)
                prefill = True
                while True:
                    # logits of the last position only: the 49k-wide output projection over a 600-token prompt
                    # would cost more than the rest of the prompt's pass
                    out = loaded.model(input_ids=feed, use_cache=True, logits_to_keep=1, **cache)
                    if prefill:
                        self._keep_prefix(prompt_ids, kv)
                        prefill = False
                    logits = out.logits[:, -1, :]
                    scores = processor.mask(logits.float())
                    if temperature > 0:
                        token = int(torch.multinomial(torch.softmax(scores / temperature, dim=-1), 1)[0, 0])
                    else:
                        token = int(scores[0].argmax())
                    new = [token]
                    processor.follow(0, token)
                    if token not in stop_ids:
                        new += processor.forced(0)[: budget - len(tokens) - 1]
                        for forced in new[1:]:
                            processor.follow(0, forced)
                    tokens += new
                    limits.check(len(tokens))
                    ended = stream.follow(0, new) if stream is not None else False
                    if token in stop_ids or ended or 0 in limits.stopped:
                        break
                    feed = torch.tensor([new], dtype=input_ids.dtype, device=loaded.device)
        except Exception as exc:
            raise ProviderError(f"local generation failed: {type(exc).__name__}: {exc}", provider=PROVIDER) from exc
        finally:
            self.steps += processor.steps
            self.grammar_s += processor.seconds
        return [self._finish_row(0, tokens, width, limits, stream, processor, matchers, served=row_hooks is not None)]

    def _cache_for(self, prompt_ids: list[int]) -> tuple[Any, int]:
        """A KV cache holding what the last lone prompt shares with this one (the system prompt and the
        instructions before the candidates), and where this prompt's pass starts."""
        cache = DynamicCache(config=self._loaded.model.config)
        if not self._prefix_cache or self._prefix is None:
            return cache, 0
        stored_ids, layers = self._prefix
        shared = 0
        for a, b in zip(stored_ids, prompt_ids):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(prompt_ids) - 1)  # at least one token is fed: its logits choose the first
        if shared < MIN_SHARED_PREFIX:
            return cache, 0
        for index, (keys, values) in enumerate(layers):
            cache.update(keys[:, :, :shared], values[:, :, :shared], index)
        self.prefix_tokens_reused += shared
        return cache, shared

    def _keep_prefix(self, prompt_ids: list[int], cache: Any) -> None:
        """Remember this prompt's keys and values (views: the cache's later growth makes new tensors)."""
        if self._prefix_cache:
            width = len(prompt_ids)
            self._prefix = (prompt_ids, [(layer.keys[:, :, :width], layer.values[:, :, :width]) for layer in cache.layers])

    @staticmethod
    def _row_result(
        row: int,
        text: str,
        tokens_in: int,
        tokens_out: int,
        finish: Finish,
        processor: GrammarLogitsProcessor,
        matchers: list[RowMatcher | None],
        served: bool = False,
    ) -> Generation | ProviderError:
        constrained = matchers[row] is not None and not served
        if finish == "cancelled":
            return ProviderUnavailable("the client went away", provider=PROVIDER)
        if finish == "deadline":
            return UpstreamTimeout(f"deadline passed after {tokens_out} generated tokens", provider=PROVIDER)
        if matchers[row] is not None and row in processor.rejected:
            return ProviderError(
                f"grammar rejected token {processor.rejected[row]} (tokenizer and grammar disagree)", provider=PROVIDER
            )
        if constrained and finish == "length":
            return InvalidOutput(
                f"local model used its {tokens_out}-token budget before finishing the JSON", provider=PROVIDER
            )
        return Generation(text=text, tokens_in=tokens_in, tokens_out=tokens_out, finish=finish)
