"""Constrained decoding: every row of a batch follows its own JSON schema, token by token.

The default backend is llguidance: it builds a JSON-schema grammar in about a
millisecond and computes token masks lazily, so a per-request schema (candidate
ids as an enum, ``maxLength`` caps) costs nothing up front. xgrammar is kept as
an alternative backend; it precomputes masks at compile time, which takes
seconds for schemas with ``maxLength`` (see bench/local_model.py).

Both libraries write the same token bitmask layout (int32 words, bit ``i % 32``
of word ``i // 32`` set when token ``i`` is allowed), so the logits processor
here is shared.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch
from cachetools import LRUCache
from transformers import LogitsProcessor, StoppingCriteria

from service.output.schema import without_unique_items

Backend = Literal["llguidance", "xgrammar"]
_NO_CAP_KEYS = ("maxLength", "enum", "const", "pattern", "format")


class GrammarError(ValueError):
    """A schema the backend cannot turn into a grammar."""


class RowMatcher(Protocol):
    """One row's grammar state."""

    terminated: bool  # accepted a stop token: the row is complete

    def fill(self, bitmask: torch.Tensor, row: int) -> None: ...

    def accept(self, token: int) -> bool: ...

    def forced(self) -> list[int]:
        """Tokens the grammar allows alone from here (JSON keys, punctuation, the rest of an id): no need to ask the
        model for them. Empty where the backend cannot tell."""
        ...


class GrammarBackend(Protocol):
    name: str

    def compile(self, schema_json: str) -> Any: ...

    def matcher(self, compiled: Any) -> RowMatcher: ...


def cap_string_lengths(schema: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """A copy of ``schema`` where every free-text string without its own cap gets ``maxLength: max_chars``.

    A small model can loop inside a string until it runs out of tokens; the cap
    makes the grammar close the string instead.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: walk(value) for key, value in node.items()}
        kind = node.get("type")
        is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
        if is_string and not any(key in node for key in _NO_CAP_KEYS):
            node["maxLength"] = max_chars
        return node

    return walk(copy.deepcopy(schema))


def canonical_json(schema: dict[str, Any]) -> str:
    """One text per schema whatever its key order: equal schemas share one compiled grammar."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _LLGuidanceRow:
    def __init__(self, matcher: Any, stop_ids: frozenset[int]) -> None:
        self._matcher = matcher
        self._stop_ids = stop_ids
        self.terminated = False

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        import llguidance.numpy

        llguidance.numpy.fill_next_token_bitmask(self._matcher, bitmask.numpy(), row)

    def accept(self, token: int) -> bool:
        ok = bool(self._matcher.consume_token(token)) and not self._matcher.is_error()
        if ok and token in self._stop_ids:
            self.terminated = True
        return ok

    def forced(self) -> list[int]:
        if self.terminated or self._matcher.is_error():
            return []
        return [t for t in self._matcher.compute_ff_tokens() if t not in self._stop_ids]


class LLGuidanceBackend:
    """JSON schema → llguidance grammar; compact JSON (no free whitespace, so no whitespace loops)."""

    name = "llguidance"

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int]) -> None:
        import llguidance
        import llguidance.hf

        self._llguidance = llguidance
        self._stop_ids = frozenset(stop_token_ids)
        self._tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=list(stop_token_ids))

    def compile(self, schema_json: str) -> str:
        matcher_cls = self._llguidance.LLMatcher
        # llguidance does not implement uniqueItems; DistinctIds enforces it for arrays of picks by id
        schema_json = json.dumps(without_unique_items(json.loads(schema_json)), sort_keys=True, separators=(",", ":"))
        try:
            grammar = matcher_cls.grammar_from_json_schema(schema_json, defaults={"whitespace_flexible": False})
        except ValueError as exc:
            raise GrammarError(str(exc)) from exc
        problem = matcher_cls.validate_grammar(grammar, self._tokenizer)
        if problem and not problem.startswith("WARNING"):
            raise GrammarError(problem[:500])
        return grammar

    def matcher(self, compiled: str) -> RowMatcher:
        return _LLGuidanceRow(self._llguidance.LLMatcher(self._tokenizer, compiled), self._stop_ids)


class _XGrammarRow:
    def __init__(self, matcher: Any) -> None:
        self._matcher = matcher

    @property
    def terminated(self) -> bool:
        return bool(self._matcher.is_terminated())

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self._matcher.fill_next_token_bitmask(bitmask, row)

    def accept(self, token: int) -> bool:
        return bool(self._matcher.accept_token(token))

    def forced(self) -> list[int]:
        return []  # xgrammar forces strings (find_jump_forward_string), not tokens: not used here


class XGrammarBackend:
    """JSON schema → xgrammar compiled grammar (masks precomputed at compile time)."""

    name = "xgrammar"

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int], *, max_threads: int = 2) -> None:
        import xgrammar

        self._xgr = xgrammar
        info = xgrammar.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop_token_ids)
        )
        # Our own LRU (in Grammars) bounds what is kept; xgrammar's unbounded cache would duplicate it.
        self._compiler = xgrammar.GrammarCompiler(info, max_threads=max_threads, cache_enabled=False)

    def compile(self, schema_json: str) -> Any:
        schema_json = json.dumps(without_unique_items(json.loads(schema_json)))
        try:
            return self._compiler.compile_json_schema(schema_json, any_whitespace=False, strict_mode=True)
        except (RuntimeError, ValueError) as exc:
            raise GrammarError(str(exc)[:500]) from exc

    def matcher(self, compiled: Any) -> RowMatcher:
        return _XGrammarRow(self._xgr.GrammarMatcher(compiled))


def make_backend(name: Backend, tokenizer: Any, vocab_size: int, stop_token_ids: Sequence[int]) -> GrammarBackend:
    if name == "llguidance":
        return LLGuidanceBackend(tokenizer, vocab_size, stop_token_ids)
    if name == "xgrammar":
        return XGrammarBackend(tokenizer, vocab_size, stop_token_ids)
    raise ValueError(f"unknown grammar backend {name!r}")


class Grammars:
    """Compiled grammars by schema hash (bounded LRU), and fresh per-row matchers from them."""

    def __init__(self, backend: GrammarBackend, *, cache_size: int = 64) -> None:
        self.backend = backend
        self._cache: LRUCache[str, Any] = LRUCache(maxsize=cache_size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.compile_s = 0.0

    def matcher(self, schema: dict[str, Any]) -> RowMatcher:
        """A new matcher at the start of ``schema``'s grammar.

        :raises GrammarError: when the schema cannot be compiled.
        """
        text = canonical_json(schema)
        key = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is not None:
                self.hits += 1
        if compiled is None:
            started = time.monotonic()
            compiled = self.backend.compile(text)
            with self._lock:
                self.misses += 1
                self.compile_s += time.monotonic() - started
                self._cache[key] = compiled
        return self.backend.matcher(compiled)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "backend": self.backend.name,
                "cached": len(self._cache),
                "hits": self.hits,
                "misses": self.misses,
                "compile_s": round(self.compile_s, 3),
            }


def distinct_id_choices(schema: dict[str, Any]) -> list[str] | None:
    """The ids of an answer whose picks must differ: an array with ``uniqueItems`` whose items have an ``id``
    property from an ``enum`` (shopguide's recommendation schema). None when the schema has no such array."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return defs.get(ref.removeprefix("#/$defs/"), {})
        return node

    def walk(node: Any) -> list[str] | None:
        node = resolve(node)
        if isinstance(node, list):
            return next((found for item in node if (found := walk(item)) is not None), None)
        if not isinstance(node, dict):
            return None
        if node.get("type") == "array" and node.get("uniqueItems") is True:
            item = resolve(node.get("items", {}))
            enum = item.get("properties", {}).get("id", {}).get("enum") if isinstance(item, dict) else None
            if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
                return list(enum)
        return next((found for key, value in node.items() if key != "$defs" and (found := walk(value)) is not None), None)

    return walk(schema)


class DistinctIds:
    """A row's matcher that also keeps the answer's picks distinct.

    The grammar (an ``enum``) cannot say "an id not picked yet"; a small model repeats picks, more so when
    the ids' shared prefix is forced and it only chooses the last characters. Inside an ``"id":"…`` value,
    tokens whose every completion is an id this answer already picked are masked out, unless nothing else
    is allowed. The text is followed piece by piece (ids and JSON keys are ASCII; other text may decode to
    replacement characters here, which the checks never look at).
    """

    KEY = '"id":"'

    def __init__(self, inner: RowMatcher, ids: Sequence[str], piece: Any) -> None:
        self._inner = inner
        self._ids = list(dict.fromkeys(ids))
        self._piece = piece  # token -> its text (cached by the caller)
        self._text: list[str] = []
        self.banned = 0  # tokens masked for completing a repeated pick

    @property
    def terminated(self) -> bool:
        return self._inner.terminated

    def accept(self, token: int) -> bool:
        self._text.append(self._piece(token))
        return self._inner.accept(token)

    def forced(self) -> list[int]:
        return self._inner.forced()

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self._inner.fill(bitmask, row)
        text = "".join(self._text)
        start = text.rfind(self.KEY)
        if start < 0:
            return
        partial = text[start + len(self.KEY):]
        if '"' in partial:
            return  # not inside an id value
        picked = set(re.findall(r'"id":"([^"]*)"', text))
        if not picked:
            return
        allowed = allowed_tokens(bitmask[row])
        ban = [t for t in allowed if self._repeats(partial + self._piece(t), picked)]
        if ban and len(ban) < len(allowed):
            for token in ban:
                bitmask[row, token // 32] &= ~_bit(token % 32)
            self.banned += len(ban)

    def _repeats(self, prefix: str, picked: set[str]) -> bool:
        if '"' in prefix:  # the token closes the value: it is exactly this id
            value = prefix.split('"', 1)[0]
            return value in picked
        reachable = [i for i in self._ids if i.startswith(prefix)]
        return bool(reachable) and all(i in picked for i in reachable)


def _bit(position: int) -> int:
    """Bit ``position`` of an int32 word, as the signed value torch stores."""
    value = 1 << position
    return value - 2**32 if value >= 2**31 else value


def allowed_tokens(words: torch.Tensor) -> list[int]:
    """The token ids whose bit is set in one row of a packed bitmask."""
    bits = (words.unsqueeze(-1) >> _BIT_SHIFTS) & 1
    return torch.nonzero(bits.reshape(-1)).flatten().tolist()


_BIT_SHIFTS = torch.arange(32, dtype=torch.int32)


def apply_bitmask(scores: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Set the logits of tokens whose bit is clear to -inf, in place."""
    batch, vocab = scores.shape
    bits = (bitmask.unsqueeze(-1) >> _BIT_SHIFTS) & 1  # (batch, words, 32)
    allowed = bits.reshape(batch, -1)[:, :vocab].to(device=scores.device, dtype=torch.bool)
    if allowed.shape[1] < vocab:  # logits wider than the grammar's vocabulary: padding tokens are never allowed
        pad = torch.zeros(batch, vocab - allowed.shape[1], dtype=torch.bool, device=scores.device)
        allowed = torch.cat([allowed, pad], dim=1)
    scores.masked_fill_(~allowed, float("-inf"))


class RowLimits(StoppingCriteria):
    """Stops each row at its own token budget or deadline (the batch shares one ``generate`` call)."""

    def __init__(self, prompt_width: int, max_new_tokens: Sequence[int], deadlines: Sequence[float]) -> None:
        self._prompt_width = prompt_width
        self._max_new = list(max_new_tokens)
        self._deadlines = list(deadlines)
        self.stopped: set[int] = set()
        self.expired: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        return torch.tensor(self.check(input_ids.shape[1] - self._prompt_width), dtype=torch.bool, device=input_ids.device)

    def check(self, generated: int) -> list[bool]:
        """Each row's "stop now", after ``generated`` tokens of every row."""
        now = time.monotonic()
        done = []
        for row, (limit, deadline) in enumerate(zip(self._max_new, self._deadlines, strict=True)):
            over_budget = generated >= limit
            late = now >= deadline
            if (over_budget or late) and row not in self.stopped:
                self.stopped.add(row)
                if late and not over_budget:
                    self.expired.add(row)
            done.append(row in self.stopped)
        return done


def quote_token_bitmask(tokenizer: Any, vocab_size: int) -> tuple[torch.Tensor, frozenset[int]]:
    """Tokens that close a JSON string: their text holds ``"`` and no backslash (``\\"`` would not close it).

    Returns them as a packed bitmask (one row) and as a set.
    """
    pieces = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    ids = frozenset(i for i, piece in enumerate(pieces) if piece and '"' in piece and "\\" not in piece)
    words = torch.zeros((vocab_size + 31) // 32, dtype=torch.int64)
    for token in ids:
        words[token // 32] |= 1 << (token % 32)
    packed = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)  # bit 31 is the int32 sign bit
    return packed.unsqueeze(0), ids


@dataclass(frozen=True)
class StringTokenCap:
    """After ``max_tokens`` generated tokens without a quote, only string-closing tokens stay allowed.

    ``maxLength`` counts characters, and a CJK character costs a small model's
    byte-level tokenizer two or three tokens; this caps a looping string in tokens,
    whatever the language.
    """

    max_tokens: int
    quote_bitmask: torch.Tensor  # (1, words) int32
    quote_ids: frozenset[int]


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks each row's logits with its own matcher (``None`` = unconstrained row). One per ``generate`` call."""

    def __init__(
        self,
        matchers: Sequence[RowMatcher | None],
        vocab_size: int,
        limits: RowLimits | None = None,
        string_cap: StringTokenCap | None = None,
    ) -> None:
        self._matchers = list(matchers)
        self._limits = limits
        self._cap = string_cap
        self._bitmask = torch.full((len(self._matchers), (vocab_size + 31) // 32), -1, dtype=torch.int32)
        self._started = False
        self._since_quote = [0] * len(self._matchers)
        self.rejected: dict[int, int] = {}  # row -> token the grammar refused (a bug, not the model's fault)
        self.capped: set[int] = set()  # rows where a string was closed by the token cap
        self.steps = 0
        self.seconds = 0.0  # time spent here: the cost of constraining, per decoding step

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        started = time.perf_counter()
        if self._started and any(matcher is not None for matcher in self._matchers):
            for row in range(len(self._matchers)):
                self.follow(row, int(input_ids[row, -1]))
        self._started = True
        self.seconds += time.perf_counter() - started
        return self.mask(scores)

    def follow(self, row: int, token: int) -> None:
        """Feed ``row``'s grammar the token appended to it (sampled or forced)."""
        matcher = self._matchers[row]
        stopped = self._limits.stopped if self._limits is not None else set()
        # Rows a stopping criterion ended are fed padding from now on; that is not the model's output.
        if matcher is None or matcher.terminated or row in stopped or row in self.rejected:
            return
        if not matcher.accept(token):
            self.rejected[row] = token
        if self._cap is not None:
            self._since_quote[row] = 0 if token in self._cap.quote_ids else self._since_quote[row] + 1

    def forced(self, row: int) -> list[int]:
        """What ``row``'s grammar forces next (the string cap cannot change it: a forced token is the only one allowed)."""
        matcher = self._matchers[row]
        if matcher is None or matcher.terminated or row in self.rejected:
            return []
        started = time.perf_counter()
        tokens = matcher.forced()
        self.seconds += time.perf_counter() - started
        return tokens

    def mask(self, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Set each row's disallowed logits to -inf (one decoding step)."""
        started = time.perf_counter()
        self.steps += 1
        if any(matcher is not None for matcher in self._matchers):
            self._fill_and_apply(scores)
        self.seconds += time.perf_counter() - started
        return scores

    def _fill_and_apply(self, scores: torch.FloatTensor) -> None:
        stopped = self._limits.stopped if self._limits is not None else set()
        self._bitmask.fill_(-1)  # finished or unconstrained rows: everything allowed (never an all -inf row)
        for row, matcher in enumerate(self._matchers):
            if matcher is None or matcher.terminated or row in stopped or row in self.rejected:
                continue
            matcher.fill(self._bitmask, row)
            if self._cap is not None and self._since_quote[row] >= self._cap.max_tokens:
                closing = self._bitmask[row] & self._cap.quote_bitmask[0]
                if bool(closing.any()):  # inside a string that may end here: end it
                    self._bitmask[row] = closing
                    self.capped.add(row)
        apply_bitmask(scores, self._bitmask)
