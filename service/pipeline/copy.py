"""The copy data flow: product → prompts → cache key → single-flight → provider chain →
parse (repair, re-ask) → checks → one regeneration → policy → respond.

Shared by POST /v1/copy, ``shopguide copy`` and copy jobs. What is kept, flagged
or dropped after the checks is :mod:`service.copywriting.policy`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.cache.keys import answer_key, normalize_text
from service.cache.singleflight import Computed, SingleFlight
from service.cache.store import AnswerCache
from service.catalog.load import Catalog
from service.catalog.product import Product
from service.copywriting.channels import ChannelLimits
from service.copywriting.checks import aggregate, check_variant
from service.copywriting.compliance import ComplianceRules, compliance_rules, primary_language
from service.copywriting.fallback import fallback_variant
from service.copywriting.grounding import ProductFacts, product_facts
from service.copywriting.policy import fatal_reasons, needs_regeneration, problem_lines
from service.copywriting.schema import CopyChecks, CopyOutput, CopyVariant, copy_output_schema
from service.errors import InvalidOutput, NotFound, ProviderError, ServiceUnavailable
from service.ops.metrics import Metrics
from service.output.parse import parse_output
from service.prompt.language import detect_language, language_name
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest, Completion
from service.provider.chain import AllProvidersFailed, ProviderChain
from service.respond.copy import CopyAnswer, CopyResponse, CopyVariantOut, DroppedVariant, Usage
from service.settings import Settings
from service.validate.copy import CopyOptions, CopyRequest

log = logging.getLogger(__name__)

ENDPOINT = "copy"
SCHEMA_NAME = "copy_variants"
_DESCRIPTION_CHARS = 4000
_MAX_TOKENS_CAP = 16384
_PREVIOUS_REPLY_CHARS = 8000
_SCHEMA_CACHE_SIZE = 256  # variant counts x channels x lengths is small; max_chars adds at most this many


def copy_language(options: CopyOptions, product: Product) -> str:
    """The request's language, else the product's, else the language of its title and description."""
    for code in (options.language, product.lang):
        if code and code.strip():
            return code.strip().lower().replace("_", "-")
    return detect_language(f"{product.title} {product.description[:200]}")


def prompt_product(product: Product) -> dict[str, Any]:
    """What the model sees of the product: its facts, the description trimmed."""
    facts = product.facts()
    facts.pop("in_stock", None)
    text = facts.get("description")
    if isinstance(text, str) and len(text) > _DESCRIPTION_CHARS:
        facts["description"] = text[: _DESCRIPTION_CHARS - 1] + "…"
    return facts


def product_hash(product: Product) -> str:
    return hashlib.sha256(product.model_dump_json().encode()).hexdigest()[:32]


@dataclass
class _Written:
    """Variants as they stand after the model (and maybe the regeneration) wrote them."""

    variants: list[CopyVariant]
    checks: list[CopyChecks]
    regenerated: list[bool]
    completion: Completion
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class Outcome:
    payload: dict[str, Any]
    llm_ms: float
    cacheable: bool


class CopyPipeline:
    """Writes checked marketing copy for one product."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        renderer: PromptRenderer,
        cache: AnswerCache,
        flights: SingleFlight,
        chain: ProviderChain,
        metrics: Metrics,
        extra_terms: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._renderer = renderer
        self._cache = cache
        self._flights = flights
        self._chain = chain
        self._metrics = metrics
        self._extra_terms = {k: tuple(v) for k, v in (extra_terms or {}).items()}
        self._rules: dict[str, ComplianceRules] = {}
        self._lock = threading.Lock()
        self._schema_cache: dict[tuple[int, ChannelLimits], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.prompt_version = renderer.version(ENDPOINT)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def chain(self) -> ProviderChain:
        return self._chain

    def with_chain(self, chain: ProviderChain) -> CopyPipeline:
        """This pipeline (same prompts, cache, catalog, settings) calling ``chain`` instead."""
        return CopyPipeline(
            settings=self._settings,
            catalog=self._catalog,
            renderer=self._renderer,
            cache=self._cache,
            flights=self._flights,
            chain=chain,
            metrics=self._metrics,
            extra_terms=self._extra_terms,
        )

    # -- entry points ------------------------------------------------------------------------
    def product_for(self, request: CopyRequest) -> Product:
        """The catalog product named by ``product_id``, or the inline product.

        :raises NotFound: when the id is not in the catalog.
        """
        if request.product is not None:
            return request.product.to_product()
        assert request.product_id is not None
        product = self._catalog.get(request.product_id)
        if product is None:
            raise NotFound(f"product_id: no product {request.product_id!r} in the catalog", field="product_id")
        return product

    def run(self, request: CopyRequest, request_id: str) -> CopyResponse:
        """The whole flow for one API request.

        :raises NotFound: unknown product id.
        :raises ServiceUnavailable: no provider answered and degraded answers are disabled.
        """
        return self.write(self.product_for(request), request.options(), request_id)

    def write(
        self,
        product: Product,
        options: CopyOptions,
        request_id: str,
        *,
        allow_degraded: bool | None = None,
    ) -> CopyResponse:
        """Copy for ``product``; ``allow_degraded=False`` (bulk runs) raises instead of answering from facts.

        :raises ServiceUnavailable: no provider answered and degraded answers are not allowed.
        """
        allow = self._settings.degraded_answers if allow_degraded is None else allow_degraded
        started = time.monotonic()
        deadline = started + self._settings.deadline_s
        language = copy_language(options, product)
        limits = options.limits()
        key = self._key(product, options, language)

        hit = self._cache.get(key)
        if hit is not None:
            payload = orjson.loads(hit)
            payload["usage"] = Usage().model_dump()
            return self._respond(payload, request_id, started, 0.0, cached=True)

        def compute() -> Computed:
            outcome = self._answer(product, options, language, limits, deadline, allow)
            blob = orjson.dumps({"payload": outcome.payload, "llm_ms": outcome.llm_ms})
            if not outcome.cacheable:
                return Computed(blob)
            return Computed(blob, key, orjson.dumps(outcome.payload), self._ttl(outcome.payload))

        flight = self._flights.do(key, compute, deadline, self._cache)
        if flight.shared:
            self._metrics.coalesced.inc()
        result = orjson.loads(flight.value)
        if result["payload"]["degraded"] and not allow:  # a degraded answer computed for another caller
            raise ServiceUnavailable("no provider could write the copy")
        return self._respond(result["payload"], request_id, started, result["llm_ms"], cached=False)

    # -- steps -------------------------------------------------------------------------------
    def rules(self, language: str) -> ComplianceRules:
        """The compliance rules for a copy language (built once per language)."""
        lang = primary_language(language)
        with self._lock:
            rules = self._rules.get(lang)
            if rules is None:
                rules = compliance_rules(lang, mode=self._settings.copy_compliance, extra_terms=self._extra_terms)
                self._rules[lang] = rules
        return rules

    def _key(self, product: Product, options: CopyOptions, language: str) -> str:
        parts = {
            "prompt": self.prompt_version,
            "chain": self._chain.fingerprint(ENDPOINT),
            "model": self._settings.model_for(ENDPOINT),
            "params": [self._settings.temperature, self._settings.max_tokens],
            "product": product_hash(product),
            "language": language,
            "channel": options.channel,
            "tone": normalize_text(options.tone),
            "length": [options.length, options.max_chars],
            "audience": normalize_text(options.audience) if options.audience else None,
            "brand_voice": normalize_text(options.brand_voice) if options.brand_voice else None,
            "examples": [normalize_text(e) for e in options.examples],
            "keywords": [normalize_text(k) for k in options.keywords],
            "banned": sorted({normalize_text(w) for w in options.banned_words}),
            "variants": options.variants,
            "strict": options.strict,
            "compliance": [self._settings.copy_compliance, sorted((k, sorted(v)) for k, v in self._extra_terms.items())],
        }
        return answer_key(self._settings.cache_prefix, ENDPOINT, parts)

    def _ttl(self, payload: dict[str, Any]) -> float:
        if payload["provider"] == self._chain.primary:
            return self._settings.cache_ttl_s
        return min(self._settings.cache_ttl_s, self._settings.cache_fallback_ttl_s)

    def _max_tokens(self, count: int, limits: ChannelLimits, language: str) -> int:
        chars = limits.headline_max + limits.body_max + limits.bullets_max * limits.bullet_max + limits.cta_max + 80
        per_char = 1.0 if primary_language(language) in ("zh", "ja", "ko") else 0.35
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

    def _chat(
        self,
        messages: tuple[dict[str, str], ...],
        count: int,
        limits: ChannelLimits,
        language: str,
        deadline: float,
    ) -> ChatRequest:
        schema, grammar = self._schemas(count, limits)
        return ChatRequest(
            messages=messages,
            schema_name=SCHEMA_NAME,
            schema=schema,
            grammar_schema=grammar,
            deadline=deadline,
            temperature=self._settings.temperature,
            max_tokens=self._max_tokens(count, limits, language),
            endpoint=ENDPOINT,
            model=self._settings.model_for(ENDPOINT),
        )

    def _messages(self, product: Product, options: CopyOptions, language: str, limits: ChannelLimits) -> tuple[dict[str, str], ...]:
        preset = options.tone_preset()
        rendered = self._renderer.render(
            ENDPOINT,
            product=prompt_product(product),
            channel=options.channel,
            limits=limits.model_dump(),
            variants=options.variants,
            language_name=language_name(language),
            tone=options.tone,
            tone_name=options.tone.lower(),
            tone_preset=preset,
            audience=options.audience,
            brand_voice=options.brand_voice,
            examples=list(options.examples),
            keywords=list(options.keywords),
            banned_words=list(options.banned_words),
        )
        return rendered.messages

    def _check(self, variant: CopyVariant, facts: ProductFacts, options: CopyOptions, limits: ChannelLimits, rules: ComplianceRules) -> CopyChecks:
        return check_variant(
            variant,
            facts,
            limits=limits,
            keywords=options.keywords,
            banned_words=options.banned_words,
            compliance=rules,
        )

    def _answer(
        self,
        product: Product,
        options: CopyOptions,
        language: str,
        limits: ChannelLimits,
        deadline: float,
        allow_degraded: bool,
    ) -> Outcome:
        started = time.monotonic()
        facts = product_facts(product)
        rules = self.rules(language)
        if not self._chain.providers:
            return self._degraded(product, options, language, limits, facts, rules, started, [], allow_degraded)
        count = options.variants
        chat = self._chat(self._messages(product, options, language, limits), count, limits, language, deadline)
        usage = Usage()
        failed: list[str] = []
        try:
            completion = self._chain.complete(chat)
            self._count_call(completion, usage)
            failed = list(completion.fallback_from)
            output, completion = self._parsed(completion, chat, count, language, usage)
        except AllProvidersFailed as exc:
            self._count_failures(exc)
            failed = [f"{name}:{err.kind}" for name, err in exc.failures]
            if not allow_degraded:
                raise ServiceUnavailable(str(exc), deadline_exceeded=exc.deadline_exceeded) from exc
            return self._degraded(product, options, language, limits, facts, rules, started, failed, True)
        except InvalidOutput as exc:
            failed.append(f"{exc.provider or 'chain'}:InvalidOutput")
            if not allow_degraded:
                raise ServiceUnavailable(f"the model did not write valid copy: {exc}") from exc
            return self._degraded(product, options, language, limits, facts, rules, started, failed, True)

        variants = list(output.variants[:count])
        written = _Written(
            variants=variants,
            checks=[self._check(v, facts, options, limits, rules) for v in variants],
            regenerated=[False] * len(variants),
            completion=completion,
            usage=usage,
        )
        failing = [i for i, c in enumerate(written.checks) if needs_regeneration(c)]
        missing = count - len(variants)
        if failing or missing > 0:
            self._regenerate(written, chat, failing, missing, facts, options, limits, language, rules)
        payload = self._payload(
            product, options, language, limits, written.variants, written.checks, written.regenerated,
            provider=completion.provider, model=completion.model, degraded=False, fallback_from=failed, usage=written.usage,
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=bool(payload["variants"]))

    def _parsed(
        self, completion: Completion, chat: ChatRequest, count: int, language: str, usage: Usage
    ) -> tuple[CopyOutput, Completion]:
        """Parse (with one repair), then re-ask once.

        :raises InvalidOutput: when the second answer is no better.
        """
        try:
            parsed = parse_output(completion.text, CopyOutput, provider=completion.provider)
            if parsed.repaired:
                self._metrics.invalid_output.labels("repaired").inc()
            if parsed.value.variants:
                return parsed.value, completion
            problem = "variants: the list is empty"
        except InvalidOutput as first:
            problem = str(first)
        self._metrics.invalid_output.labels("reask").inc()
        reask = self._renderer.render_message(
            ENDPOINT, "reask", problem=problem, count=count, language_name=language_name(language)
        )
        retry = chat.follow_up(completion.text, reask, previous_chars=_PREVIOUS_REPLY_CHARS)
        try:
            second = self._chain.complete(retry)
        except AllProvidersFailed as exc:
            self._count_failures(exc)
            raise InvalidOutput(f"re-ask failed: {exc}", provider=completion.provider) from exc
        self._count_call(second, usage)
        try:
            value = parse_output(second.text, CopyOutput, provider=second.provider).value
        except InvalidOutput:
            self._metrics.invalid_output.labels("failed").inc()
            raise
        if not value.variants:
            self._metrics.invalid_output.labels("failed").inc()
            raise InvalidOutput("no variants after re-ask", provider=second.provider)
        return value, second

    def _regenerate(
        self,
        written: _Written,
        chat: ChatRequest,
        failing: list[int],
        missing: int,
        facts: ProductFacts,
        options: CopyOptions,
        limits: ChannelLimits,
        language: str,
        rules: ComplianceRules,
    ) -> None:
        """One more call for replacements of the failing (and missing) variants; in place.

        A failed call leaves the variants as they were: the policy then decides.
        """
        problems = [{"index": i + 1, "problems": problem_lines(written.checks[i])} for i in failing]
        first_missing = len(written.variants)
        problems += [{"index": first_missing + j + 1, "problems": ["was not written"]} for j in range(missing)]
        count = len(problems)
        message = self._renderer.render_message(
            ENDPOINT, "regenerate", problems=problems, count=count, language_name=language_name(language)
        )
        base = chat.follow_up(written.completion.text, message, previous_chars=_PREVIOUS_REPLY_CHARS)
        retry = self._chat(base.messages, count, limits, language, chat.deadline)
        self._metrics.invalid_output.labels("regenerate").inc()
        try:
            completion = self._chain.complete(retry)
            self._count_call(completion, written.usage)
            replacements = parse_output(completion.text, CopyOutput, provider=completion.provider).value.variants
        except AllProvidersFailed as exc:
            self._count_failures(exc)
            log.warning("copy regeneration failed; applying the policy to the first variants", extra={"error": str(exc)})
            return
        except ProviderError as exc:
            log.warning("copy regeneration unusable; applying the policy to the first variants", extra={"error": str(exc)})
            return
        targets = failing + list(range(first_missing, first_missing + missing))
        for index, variant in zip(targets, replacements, strict=False):
            checks = self._check(variant, facts, options, limits, rules)
            if index < len(written.variants):
                # A replacement that came out worse (e.g. a banned word instead of a flagged claim) is not taken.
                if _badness(checks, options.strict) > _badness(written.checks[index], options.strict):
                    continue
                written.variants[index] = variant
                written.checks[index] = checks
                written.regenerated[index] = True
            else:
                written.variants.append(variant)
                written.checks.append(checks)
                written.regenerated.append(True)

    def _degraded(
        self,
        product: Product,
        options: CopyOptions,
        language: str,
        limits: ChannelLimits,
        facts: ProductFacts,
        rules: ComplianceRules,
        started: float,
        failed: list[str],
        allow: bool,
    ) -> Outcome:
        """Plain copy from the product's own data; never cached, so a recovered model answers next time."""
        if not allow:
            raise ServiceUnavailable("no provider is configured to write copy")
        self._metrics.degraded.labels(ENDPOINT).inc()
        variant = fallback_variant(product, limits, language)
        checks = self._check(variant, facts, options, limits, rules)
        payload = self._payload(
            product, options, language, limits, [variant], [checks], [False],
            provider=None, model=None, degraded=True, fallback_from=failed, usage=Usage(),
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=False)

    def _payload(
        self,
        product: Product,
        options: CopyOptions,
        language: str,
        limits: ChannelLimits,
        variants: list[CopyVariant],
        checks: list[CopyChecks],
        regenerated: list[bool],
        *,
        provider: str | None,
        model: str | None,
        degraded: bool,
        fallback_from: list[str],
        usage: Usage,
    ) -> dict[str, Any]:
        kept: list[CopyVariantOut] = []
        kept_checks: list[CopyChecks] = []
        dropped: list[DroppedVariant] = []
        for variant, check, again in zip(variants, checks, regenerated, strict=True):
            reasons = fatal_reasons(check, strict=options.strict)
            if reasons:
                dropped.append(DroppedVariant(reasons=reasons, checks=check))
            else:
                kept.append(CopyVariantOut(**variant.model_dump(), checks=check, regenerated=again))
                kept_checks.append(check)
        summary = aggregate(kept_checks) if kept else aggregate([d.checks for d in dropped])
        answer = CopyAnswer(
            product_id=product.id,
            channel=options.channel,
            language=language,
            variants=kept,
            checks=summary,
            dropped_variants=dropped,
            limits=limits,
            provider=provider,
            model=model,
            degraded=degraded,
            fallback_from=fallback_from,
            prompt_version=self.prompt_version,
            usage=usage,
        )
        return answer.model_dump(mode="json")

    def _count_call(self, completion: Completion, usage: Usage) -> None:
        usage.llm_calls += 1
        usage.tokens_in += completion.tokens_in
        usage.tokens_out += completion.tokens_out
        self._metrics.llm_call(completion.provider, completion.model, "ok", completion.tokens_in, completion.tokens_out)
        for failed in completion.fallback_from:
            self._metrics.fallbacks.labels(failed.split(":")[0], completion.provider).inc()

    def _count_failures(self, exc: AllProvidersFailed) -> None:
        for name, failure in exc.failures:
            self._metrics.llm_call(name, "", failure.kind)

    def _respond(
        self, payload: dict[str, Any], request_id: str, started: float, llm_ms: float, *, cached: bool
    ) -> CopyResponse:
        total_ms = (time.monotonic() - started) * 1000
        return CopyResponse.model_validate(
            {
                **payload,
                "request_id": request_id,
                "cached": cached,
                "timings_ms": {"llm": round(llm_ms, 3), "total": round(total_ms, 3)},
            }
        )


def _badness(checks: CopyChecks, strict: bool) -> tuple[int, int]:
    """Orders variants by how bad their problems are: fatal ones first, then all of them."""
    problems = (
        len(checks.banned_hits) + len(checks.compliance_hits) + len(checks.length_problems) + len(checks.unsupported_claims)
    )
    return len(fatal_reasons(checks, strict=strict)), problems


