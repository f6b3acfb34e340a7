"""The recommendation's requests to the model: the full prompt, its compact form for small models, the re-ask.

Shopper text is masked (:mod:`service.ops.privacy`) before it is rendered into a prompt.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from service.catalog.load import Catalog
from service.ops.privacy import Redactor
from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_grammar_schema, recommend_schema
from service.personalize.contract import Signals
from service.prompt.facts import active_filters, compact_facts, prompt_facts
from service.prompt.language import language_name
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest
from service.retrieve.base import Candidate
from service.retrieve.understand import Understood
from service.settings import Settings
from service.validate.recommend import Filters, RecommendRequest

ENDPOINT = "recommend"
COMPACT = "recommend_compact"  # the templates of the compact form for small local models
# Terse answers from a small model (issue 17): every generated token costs it tens of ms on a CPU, and
# these caps halve what it writes (bench/local_model.py --steps).
LOCAL_REASON_CHARS = 60
# No summary from a small local model: the packaged 135M model's was unusable or invented facts in 8 of 8
# answers ("The 2019-2020 season of the game of the game…"), and its ~20 tokens cost ~0.7 s on a CPU.
# The answer's summary is built from the facts (fact_summary), as for any unusable one.
LOCAL_SUMMARY_CHARS: int | None = None
_RECENT_TITLES = 10
_COMPACT_HISTORY = 3  # history titles a small local model sees


@dataclass(frozen=True)
class Shortlist:
    """One request after understanding and retrieval: what its prompt, cache key and answer are built from."""

    request: RecommendRequest
    filters: Filters  # the request's, merged with what understanding read from the words
    understood: Understood | None
    language: str  # of the answer
    candidates: list[Candidate]
    # the personalize step's: the shopper's recent products ({title, action}, never ids), the history titles
    # that speak for each candidate, and the signals (their fingerprint is in the cache key)
    history: list[dict[str, str]] = field(default_factory=list)
    related: dict[str, list[int]] = field(default_factory=dict)  # candidate id -> numbers ("n") in ``history``
    signals: Signals = field(default_factory=Signals)


class RecommendPrompts:
    """Builds the :class:`ChatRequest` for one recommendation; ``compact`` when a provider wants that form."""

    def __init__(
        self, settings: Settings, catalog: Catalog, renderer: PromptRenderer, redactor: Redactor, *, compact: bool
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._renderer = renderer
        self._redactor = redactor
        self._schema = recommend_schema()
        self.version = renderer.version(ENDPOINT)
        self.compact_version = renderer.version(COMPACT) if compact else None

    def chat(self, shortlist: Shortlist, deadline: float) -> ChatRequest:
        """The full request (hosted providers get ``schema``; a local one constrains its compact form's grammar)."""
        return ChatRequest(
            messages=self._messages(shortlist),
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self._schema,
            deadline=deadline,
            temperature=self._settings.temperature,
            max_tokens=self._settings.max_tokens,
            endpoint=ENDPOINT,  # the provider picks its model for the endpoint (SHOPGUIDE_*_MODEL)
            compact=functools.partial(self._compact, shortlist) if self.compact_version else None,
        )

    def reask(self, problem: str, k: int, language: str) -> str:
        """The follow-up message after an answer that did not match the output contract."""
        return self._renderer.render_message(ENDPOINT, "reask", problem=problem, k=k, language_name=language_name(language))

    def _messages(self, shortlist: Shortlist) -> tuple[dict[str, str], ...]:
        request, candidates = shortlist.request, shortlist.candidates
        profile = None
        user = request.user
        if shortlist.history:  # the personalize step's history already holds recent_product_ids
            profile = {
                k: v
                for k, v in {
                    "preferences": self._redactor.redact(user.profile) if user and user.profile else None,
                    "history": shortlist.history,
                }.items()
                if v
            }
        elif user and (user.profile or user.recent_product_ids):
            recent = [self._catalog.get(pid) for pid in user.recent_product_ids]
            profile = {
                k: v
                for k, v in {
                    "preferences": self._redactor.redact(user.profile) if user.profile else None,
                    "recently_viewed": [p.title for p in recent if p is not None][:_RECENT_TITLES],
                }.items()
                if v
            }
        rendered = self._renderer.render(
            ENDPOINT,
            query=self._redactor.redact(request.query) if request.query else None,
            k=min(request.k, len(candidates)),
            language_name=language_name(shortlist.language),
            candidates=[self._facts(c, shortlist) for c in candidates],
            filters=active_filters(shortlist.filters, shortlist.understood),
            profile=profile,
        )
        return rendered.messages

    @staticmethod
    def _facts(candidate: Candidate, shortlist: Shortlist) -> dict:
        facts = prompt_facts(candidate)
        related = shortlist.related.get(candidate.product.id)
        if related:
            facts["like_from_history"] = related  # history numbers, so a reason can say "because you bought ..."
        return facts

    def _compact(self, shortlist: Shortlist) -> ChatRequest:
        return compact_request(
            self._settings,
            self._renderer,
            self._schema,
            query=self._redactor.redact(shortlist.request.query) if shortlist.request.query else None,
            candidates=shortlist.candidates,
            k=shortlist.request.k,
            language=shortlist.language,
            filters=active_filters(shortlist.filters, shortlist.understood),
            history=[h["title"] for h in shortlist.history[:_COMPACT_HISTORY]],
            endpoint=ENDPOINT,
        )


def compact_request(
    settings: Settings,
    renderer: PromptRenderer,
    schema: dict,
    *,
    query: str | None,
    candidates: list[Candidate],
    k: int,
    language: str,
    filters: dict,
    history: list[str],
    endpoint: str,
) -> ChatRequest:
    """The request for a small local model (a recommendation, a conversation turn): the top candidates, terse
    facts, fewer picks, greedy decoding, and a grammar that admits only those candidates' ids.

    ``query`` is already masked. Picks it does not make are filled from retrieval order, as for any model that
    picks fewer than k.
    """
    few = candidates[: settings.local_candidates]
    k = max(1, min(k, settings.local_max_picks, len(few)))
    rendered = renderer.render(
        COMPACT,
        query=query,
        k=k,
        language_name=language_name(language),
        candidates=[compact_facts(c) for c in few],
        filters=filters,
        history=history,
    )
    return ChatRequest(
        messages=rendered.messages,
        schema_name=RECOMMEND_SCHEMA_NAME,
        schema=schema,
        grammar_schema=recommend_grammar_schema(
            [c.product.id for c in few], k, reason_max_chars=LOCAL_REASON_CHARS, summary_max_chars=LOCAL_SUMMARY_CHARS
        ),
        deadline=0.0,  # replaced by the caller's deadline in ChatRequest.for_small_model
        temperature=settings.local_temperature,
        max_tokens=settings.local_max_new_tokens,
        endpoint=endpoint,
    )
