"""The copywriter's requests to the model: the prompt, the output schema and token budget per request, the
re-ask and the regeneration message.
"""

from __future__ import annotations

import threading
from typing import Any

from service.catalog.product import Product
from service.copywriting.channels import ChannelLimits
from service.copywriting.compliance import primary_language
from service.copywriting.schema import copy_output_schema
from service.prompt.facts import copy_facts
from service.prompt.language import language_name
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest
from service.settings import Settings
from service.validate.copy import CopyOptions

ENDPOINT = "copy"
SCHEMA_NAME = "copy_variants"
PREVIOUS_REPLY_CHARS = 8000  # the previous answer quoted back in a re-ask or regeneration: several variants
_MAX_TOKENS_CAP = 16384
_SCHEMA_CACHE_SIZE = 256  # variant counts x channels x lengths is small; max_chars adds at most this many
_CJK = ("zh", "ja", "ko")


class CopyPrompts:
    """Builds the :class:`ChatRequest` for one product's copy."""

    def __init__(self, settings: Settings, renderer: PromptRenderer) -> None:
        self._settings = settings
        self._renderer = renderer
        self._lock = threading.Lock()
        self._schema_cache: dict[tuple[int, ChannelLimits], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.version = renderer.version(ENDPOINT)

    def chat(self, product: Product, options: CopyOptions, language: str, limits: ChannelLimits, deadline: float) -> ChatRequest:
        """The first request: every variant the options ask for."""
        return self.sized(self._messages(product, options, language, limits), options.variants, limits, language, deadline)

    def sized(
        self, messages: tuple[dict[str, str], ...], count: int, limits: ChannelLimits, language: str, deadline: float
    ) -> ChatRequest:
        """``messages`` asking for ``count`` variants: the schema and the token budget fit that many."""
        schema, grammar = self._schemas(count, limits)
        return ChatRequest(
            messages=messages,
            schema_name=SCHEMA_NAME,
            schema=schema,
            grammar_schema=grammar,
            deadline=deadline,
            temperature=self._settings.temperature,
            max_tokens=self.max_tokens(count, limits, language),
            endpoint=ENDPOINT,  # the provider picks its model for the endpoint (SHOPGUIDE_*_MODEL)
        )

    def reask(self, problem: str, count: int, language: str) -> str:
        """The follow-up message after an answer that did not match the output contract."""
        return self._renderer.render_message(
            ENDPOINT, "reask", problem=problem, count=count, language_name=language_name(language)
        )

    def regenerate(self, problems: list[dict[str, Any]], language: str) -> str:
        """The follow-up message asking for replacements of the variants that ``problems`` name."""
        return self._renderer.render_message(
            ENDPOINT, "regenerate", problems=problems, count=len(problems), language_name=language_name(language)
        )

    def max_tokens(self, count: int, limits: ChannelLimits, language: str) -> int:
        """Enough tokens for ``count`` variants at the channel's limits (CJK text costs about a token a character)."""
        chars = limits.headline_max + limits.body_max + limits.bullets_max * limits.bullet_max + limits.cta_max + 80
        per_char = 1.0 if primary_language(language) in _CJK else 0.35
        needed = int(count * chars * per_char) + 64
        return min(_MAX_TOKENS_CAP, max(self._settings.max_tokens, needed))

    def _schemas(self, count: int, limits: ChannelLimits) -> tuple[dict[str, Any], dict[str, Any]]:
        """(hosted schema, local grammar schema), built once per variant count and limits.

        Hosted APIs get no maxLength (strict mode refuses it); local constrained decoding enforces it.
        The dicts are shared: nothing downstream mutates them.
        """
        key = (count, limits)
        found = self._schema_cache.get(key)
        if found is None:
            found = (copy_output_schema(count, limits, string_lengths=False), copy_output_schema(count, limits))
            with self._lock:
                if len(self._schema_cache) >= _SCHEMA_CACHE_SIZE:
                    self._schema_cache.clear()
                self._schema_cache[key] = found
        return found

    def _messages(
        self, product: Product, options: CopyOptions, language: str, limits: ChannelLimits
    ) -> tuple[dict[str, str], ...]:
        rendered = self._renderer.render(
            ENDPOINT,
            product=copy_facts(product),
            channel=options.channel,
            limits=limits.model_dump(),
            variants=options.variants,
            language_name=language_name(language),
            tone=options.tone,
            tone_name=options.tone.lower(),
            tone_preset=options.tone_preset(),
            audience=options.audience,
            brand_voice=options.brand_voice,
            examples=list(options.examples),
            keywords=list(options.keywords),
            banned_words=list(options.banned_words),
        )
        return rendered.messages
