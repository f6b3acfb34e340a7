"""The recommendation's requests to the model: the full prompt, its compact form for small models, the re-ask.

Shopper text is masked (:mod:`service.ops.privacy`) before it is rendered into a prompt.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from service.catalog.load import Catalog
from service.ops.privacy import Redactor
from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_grammar_schema, recommend_schema
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
LOCAL_REASON_CHARS = 120
LOCAL_SUMMARY_CHARS = 100
_RECENT_TITLES = 10


@dataclass(frozen=True)
class Shortlist:
    """One request after understanding and retrieval: what its prompt, cache key and answer are built from."""

    request: RecommendRequest
    filters: Filters  # the request's, merged with what understanding read from the words
    understood: Understood | None
    language: str  # of the answer
    candidates: list[Candidate]


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
        if user and (user.profile or user.recent_product_ids):
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
            query=self._redactor.redact(request.query),
            k=min(request.k, len(candidates)),
            language_name=language_name(shortlist.language),
            candidates=[prompt_facts(c) for c in candidates],
            filters=active_filters(shortlist.filters, shortlist.understood),
            profile=profile,
        )
        return rendered.messages

    def _compact(self, shortlist: Shortlist) -> ChatRequest:
        """The request for a small local model: the top candidates, terse facts, fewer picks, greedy decoding.

        Picks it does not make are filled from retrieval order, as for any model that picks fewer than k.
        """
        few = shortlist.candidates[: self._settings.local_candidates]
        k = max(1, min(shortlist.request.k, self._settings.local_max_picks, len(few)))
        rendered = self._renderer.render(
            COMPACT,
            query=self._redactor.redact(shortlist.request.query),
            k=k,
            language_name=language_name(shortlist.language),
            candidates=[compact_facts(c) for c in few],
            filters=active_filters(shortlist.filters, shortlist.understood),
        )
        return ChatRequest(
            messages=rendered.messages,
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self._schema,
            grammar_schema=recommend_grammar_schema(
                [c.product.id for c in few], k, reason_max_chars=LOCAL_REASON_CHARS, summary_max_chars=LOCAL_SUMMARY_CHARS
            ),
            deadline=0.0,  # replaced by the caller's deadline in ChatRequest.for_small_model
            temperature=self._settings.local_temperature,
            max_tokens=self._settings.local_max_new_tokens,
            endpoint=ENDPOINT,
        )
