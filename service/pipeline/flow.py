"""The flow every pipeline runs once it knows what to ask: answer cache → single-flight →
compute (provider chain → validated output, :mod:`service.pipeline.ask`) → TTL → the
answer handed back for the pipeline's response.

A pipeline passes its steps in: the cache key (everything that shapes the answer) and
the computation, a callable returning an :class:`Outcome`. The flow never looks inside a
request, so callers without a query (a "for you" page), with personal signals (their
fingerprint belongs in the key) or with state (a conversation turn: ``key=None`` is
neither cached nor coalesced) run the same flow.

Streaming hooks in through the computation: a streaming caller's computation forwards
the provider's deltas to its consumer as they arrive and returns the whole outcome at
the end. Only the request that computes streams; a cache hit or a request coalesced onto
another's flight gets the whole answer at once (:attr:`Answer.cached`,
:attr:`Answer.shared`), which a streaming consumer sends as one event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from service.cache.singleflight import Computed, SingleFlight
from service.cache.store import AnswerCache
from service.ops.metrics import Metrics
from service.ops.trace import RequestTrace
from service.pipeline.ask import Usage
from service.provider.chain import ProviderChain
from service.settings import Settings


@dataclass(frozen=True)
class Outcome:
    """What one computation produced: the cacheable part of an answer (no request id, cache flag or timings).

    ``payload`` holds at least ``provider``, ``model`` and ``degraded``, which the flow reads.
    """

    payload: dict[str, Any]
    llm_ms: float
    cacheable: bool
    usage: Usage | None = None


@dataclass(frozen=True)
class Answer:
    """What the flow hands back to the pipeline that responds."""

    payload: dict[str, Any]  # a fresh dict of the caller's own: responding may change it
    llm_ms: float
    cached: bool  # from the answer cache
    shared: bool = False  # computed by another request's flight (its tokens were counted there)


class Flow:
    """Runs computations behind one answer cache and single-flight, for one provider chain."""

    def __init__(
        self,
        *,
        settings: Settings,
        cache: AnswerCache,
        flights: SingleFlight,
        chain: ProviderChain,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._flights = flights
        self._chain = chain
        self._metrics = metrics

    def run(
        self,
        key: str | None,
        compute: Callable[[], Outcome],
        deadline: float,
        trace: RequestTrace | None = None,
        *,
        personal: bool = False,
    ) -> Answer:
        """The cached answer for ``key``, else ``compute()`` once for every concurrent request with that key.

        ``trace`` (when given) receives what the access log reports. Exceptions of ``compute`` propagate.
        ``personal``: the answer is one shopper's (its key is logged so that forgetting them deletes it), so it
        is in Redis before this returns, never written after the response.
        """
        if key is None:
            outcome = compute()
            return self._noted(trace, Answer(outcome.payload, outcome.llm_ms, cached=False), outcome.usage)
        claim = self._flights.claim(key)
        if claim is None:
            hit, claimed = self._cache.get(key), None
        else:  # on a miss the flight's lock is asked for in the same round trip
            hit, taken = self._cache.get_claiming(key, claim)
            claimed = (claim, taken) if taken is not None else None
        if hit is not None:
            return self._noted(trace, Answer(orjson.loads(hit), 0.0, cached=True), None)

        def lead() -> Computed:
            outcome = compute()
            usage = outcome.usage or Usage()
            blob = orjson.dumps(
                {"payload": outcome.payload, "llm_ms": outcome.llm_ms, "tokens": [usage.tokens_in, usage.tokens_out]}
            )
            if not outcome.cacheable:
                return Computed(blob)
            # written by the flight, in the round trip that publishes the result and releases its lock
            return Computed(
                blob, key, orjson.dumps(outcome.payload), self.ttl(outcome.payload["provider"]),
                may_write_behind=not personal,
            )

        flight = self._flights.do(key, lead, deadline, self._cache, claimed)
        result = orjson.loads(flight.value)
        answer = Answer(result["payload"], result["llm_ms"], cached=False, shared=flight.shared)
        if flight.shared:
            self._metrics.coalesced.inc()
            return self._noted(trace, answer, None)
        tokens_in, tokens_out = result["tokens"]
        return self._noted(trace, answer, Usage(tokens_in=tokens_in, tokens_out=tokens_out))

    def ttl(self, provider: str | None) -> float:
        """How long an answer by ``provider`` stays cached."""
        if provider == self._chain.primary:
            return self._settings.cache_ttl_s
        # A fallback's answer is kept briefly, so the primary's answer returns soon after it recovers.
        return min(self._settings.cache_ttl_s, self._settings.cache_fallback_ttl_s)

    @staticmethod
    def _noted(trace: RequestTrace | None, answer: Answer, usage: Usage | None) -> Answer:
        if trace is not None:
            payload = answer.payload
            trace.answered(payload["provider"], payload["model"], cached=answer.cached, degraded=payload["degraded"])
            trace.coalesced = answer.shared  # the tokens were spent, and logged, by the request that led the flight
            if usage is not None:
                trace.add_usage(usage.tokens_in, usage.tokens_out)
        return answer
