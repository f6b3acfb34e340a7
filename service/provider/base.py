"""What every provider takes and returns, and the Protocol they implement.

A provider turns chat messages into text that should match a JSON schema. It
raises only :class:`service.errors.ProviderError` subclasses: SDK and library
exceptions are translated at the provider boundary.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# The form of the prompt a provider answers best: "full" (hosted models), or "compact" (small local
# models: fewer candidates, terser facts and instructions; see ChatRequest.compact).
PromptStyle = Literal["full", "compact"]


class StreamCancelled(Exception):
    """The consumer of a streamed answer went away: the call stops, and no other provider is tried.

    Not a :class:`service.errors.ProviderError` on purpose: nothing retries or falls back on it.
    """


@runtime_checkable
class StreamSink(Protocol):
    """Receives a streamed answer's text. A provider that streams calls, per attempt, :meth:`begin`, then
    :meth:`delta` for each piece; it registers a closer with :meth:`on_cancel` (called from another thread
    when the consumer leaves) and checks :attr:`cancelled` (then raises :class:`StreamCancelled`)."""

    @property
    def cancelled(self) -> bool: ...

    def begin(self, *, compact: bool = False) -> None:
        """A new attempt starts: whatever was streamed before it no longer counts. ``compact``: the attempt is a
        small model's answer to the compact form (its prose is judged whole before any of it is shown)."""
        ...

    def delta(self, text: str) -> None: ...

    def on_cancel(self, closer: Callable[[], None] | None) -> None:
        """``closer`` stops the call in flight when the consumer leaves (None: the call is over)."""
        ...


@dataclass(frozen=True)
class ChatRequest:
    """One structured-output call.

    ``schema`` is the static JSON schema of the output model (what a hosted API
    gets, so its compiled-schema cache stays warm). ``grammar_schema`` is the same
    schema tightened for this call (candidate ids as an enum, length caps) for
    providers that constrain decoding locally; ``None`` means use ``schema``.
    """

    messages: tuple[dict[str, str], ...]
    schema_name: str
    schema: dict[str, Any]
    deadline: float  # time.monotonic() after which nobody waits for the answer
    temperature: float = 0.2
    max_tokens: int = 800
    grammar_schema: dict[str, Any] | None = None
    endpoint: str = "recommend"
    model: str | None = None  # a model for this call only; else each provider's own for the endpoint
    # Builds a smaller form of this request for small local models (fewer candidates, terser facts and
    # instructions, fewer picks): their prefill and decoding on a CPU cost seconds per hundred tokens.
    compact: Callable[[], ChatRequest] | None = field(default=None, compare=False, repr=False)
    # Where a provider that can stream sends the answer's text as it arrives (issue 15); None: answer whole.
    stream: StreamSink | None = field(default=None, compare=False, repr=False)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def for_small_model(self) -> ChatRequest:
        """The compact form when the caller provided one (with this request's deadline and stream), else this request."""
        if self.compact is None:
            return self
        return dataclasses.replace(self.compact(), deadline=self.deadline, stream=self.stream, compact=None)

    def follow_up(self, previous: str, message: str, *, previous_chars: int = 4000) -> ChatRequest:
        """This conversation continued with the model's previous reply and a new user message (re-ask, regenerate),
        in both forms: a small model answering the re-ask sees its compact prompt followed by the same two turns."""
        turns = ({"role": "assistant", "content": previous[:previous_chars]}, {"role": "user", "content": message})
        compact = self.compact
        if compact is None:
            return dataclasses.replace(self, messages=self.messages + turns)

        def compact_follow_up() -> ChatRequest:
            small = compact()
            return dataclasses.replace(small, messages=small.messages + turns)

        return dataclasses.replace(self, messages=self.messages + turns, compact=compact_follow_up)


@dataclass
class Completion:
    """A provider's answer: raw text (JSON expected) plus provenance and usage."""

    text: str
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    attempts: int = 1
    upstream_request_id: str | None = None
    fallback_from: list[str] = field(default_factory=list)
    prompt_style: PromptStyle = "full"  # the form of the request it answered (the prompt version differs)


@runtime_checkable
class Provider(Protocol):
    """Anything that can answer a :class:`ChatRequest`.

    A provider may also say which prompt form it wants in a ``prompt_style`` attribute
    (:data:`PromptStyle`; read with :func:`prompt_style`, "full" when absent).
    """

    name: str

    def complete(self, request: ChatRequest) -> Completion:
        """Answer within ``request.deadline``.

        :raises service.errors.ProviderError: on any failure.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Provider name, model and readiness for /readyz (no secrets)."""
        ...


def prompt_style(provider: object) -> PromptStyle:
    """The prompt form ``provider`` wants: its ``prompt_style``, else "full"."""
    return getattr(provider, "prompt_style", "full")
