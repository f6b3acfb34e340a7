"""The copy data flow: product → prompt → cache → provider chain → parse (repair, re-ask) → checks →
one regeneration → policy → respond.

Shared by POST /v1/copy, ``shopguide copy`` and copy jobs. Cache, single-flight and
the chain call are the shared flow (:mod:`service.pipeline.flow`); the requests to the
model are :mod:`service.prompt.copy`; what is kept, flagged or dropped after the checks
is :mod:`service.copywriting.policy`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.cache.keys import answer_key, normalize_text
from service.cache.singleflight import SingleFlight
from service.cache.store import AnswerCache
from service.catalog.load import Catalog
from service.catalog.product import Product
from service.copywriting.channels import ChannelLimits
from service.copywriting.checks import check_variant
from service.copywriting.compliance import ComplianceBook, ComplianceRules, primary_language
from service.copywriting.fallback import fallback_variant
from service.copywriting.grounding import ProductFacts, product_facts
from service.copywriting.policy import Drafts, Verdict, problem_lines
from service.copywriting.schema import CopyChecks, CopyOutput, CopyVariant
from service.errors import NotFound, ProviderError, ServiceUnavailable
from service.ops.metrics import Metrics
from service.ops.trace import RequestTrace
from service.output.parse import parse_output
from service.output.sanitize import ProseSanitizer, own_data
from service.pipeline.ask import Asker, Usage
from service.pipeline.flow import Answer, Flow, Outcome
from service.prompt.copy import ENDPOINT, PREVIOUS_REPLY_CHARS, CopyPrompts
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest, Completion
from service.provider.chain import AllProvidersFailed, ProviderChain
from service.respond.copy import CopyAnswer, CopyResponse
from service.respond.copy import Usage as UsageOut
from service.settings import Settings
from service.text.script import detect_language
from service.validate.copy import CopyOptions, CopyRequest

log = logging.getLogger(__name__)

NO_USABLE_VARIANT = "NoUsableVariant"  # in fallback_from: the model answered, every variant failed the checks


def copy_language(options: CopyOptions, product: Product) -> str:
    """The request's language, else the product's, else the language of its title and description."""
    for code in (options.language, product.lang):
        if code and code.strip():
            return code.strip().lower().replace("_", "-")
    return detect_language(f"{product.title} {product.description[:200]}")


def product_hash(product: Product) -> str:
    return hashlib.sha256(product.model_dump_json().encode()).hexdigest()[:32]


def _no_variants(output: CopyOutput) -> str | None:
    return None if output.variants else "variants: the list is empty"


@dataclass(frozen=True)
class _Brief:
    """What one product's copy is written and checked against."""

    product: Product
    options: CopyOptions
    language: str
    limits: ChannelLimits
    rules: ComplianceBook

    @functools.cached_property
    def facts(self) -> ProductFacts:
        """The product's facts for the grounding check (built on first use: a cache hit needs none)."""
        return product_facts(self.product)

    def check(self, variant: CopyVariant) -> CopyChecks:
        options = self.options
        return check_variant(
            variant, self.facts, limits=self.limits, keywords=options.keywords, banned_words=options.banned_words,
            compliance=self.rules, language=self.language,
        )


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
        self._sanitizer = ProseSanitizer(lambda kind, n: metrics.output_sanitized(ENDPOINT, kind, n))
        self._extra_terms = {k: tuple(v) for k, v in (extra_terms or {}).items()}
        self._book = ComplianceBook(settings.copy_compliance, self._extra_terms)
        self._flow = Flow(settings=settings, cache=cache, flights=flights, chain=chain, metrics=metrics)
        self._asker = Asker(chain, metrics)
        self._prompts = CopyPrompts(settings, renderer)
        self.prompt_version = self._prompts.version

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

    def run(self, request: CopyRequest, request_id: str, trace: RequestTrace | None = None) -> CopyResponse:
        """The whole flow for one API request; ``trace`` (when given) receives what the access log reports.

        :raises NotFound: unknown product id.
        :raises ServiceUnavailable: no provider answered and degraded answers are disabled.
        """
        return self.write(self.product_for(request), request.options(), request_id, trace=trace)

    def write(
        self,
        product: Product,
        options: CopyOptions,
        request_id: str,
        *,
        allow_degraded: bool | None = None,
        trace: RequestTrace | None = None,
    ) -> CopyResponse:
        """Copy for ``product``; ``allow_degraded=False`` (bulk runs) raises instead of answering from facts.

        :raises ServiceUnavailable: no provider answered and degraded answers are not allowed.
        """
        allow = self._settings.degraded_answers if allow_degraded is None else allow_degraded
        started = time.monotonic()
        deadline = started + self._settings.deadline_s
        language = copy_language(options, product)
        key = self._key(product, options, language)
        brief = _Brief(product, options, language, options.limits(), self._book)
        answer = self._flow.run(key, functools.partial(self._answer, brief, deadline, allow), deadline, trace)
        if answer.payload["degraded"] and not allow:  # a degraded answer computed for another caller
            raise ServiceUnavailable("no provider could write the copy")
        return self._respond(answer, request_id, started)

    def check(self, product: Product, options: CopyOptions, variant: CopyVariant) -> tuple[CopyChecks, str, ChannelLimits]:
        """The same checks a written variant gets, on any text (an edited one): (checks, language, limits)."""
        language = copy_language(options, product)
        brief = _Brief(product, options, language, options.limits(), self.rules(language))
        return brief.check(variant), language, brief.limits

    # -- steps -------------------------------------------------------------------------------
    def rules(self, language: str) -> ComplianceRules:
        """The compliance rules for copy in ``language`` alone (the checks add those of every script a text
        holds)."""
        return self._book.rules([primary_language(language)])

    def _key(self, product: Product, options: CopyOptions, language: str) -> str:
        parts = {
            "prompt": self._prompts.version,
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

    def _answer(self, brief: _Brief, deadline: float, allow_degraded: bool) -> Outcome:
        started = time.monotonic()
        if not self._chain.providers:
            if not allow_degraded:
                raise ServiceUnavailable("no provider is configured to write copy")
            return self._degraded(brief, started, [], Usage())
        count, language = brief.options.variants, brief.language
        chat = self._prompts.chat(brief.product, brief.options, language, brief.limits, deadline)
        usage = Usage()
        try:
            asked = self._asker.structured(
                chat,
                CopyOutput,
                usage,
                reask=lambda problem: self._prompts.reask(problem, count, language),
                problem=_no_variants,
                previous_chars=PREVIOUS_REPLY_CHARS,
            )
        except AllProvidersFailed as exc:
            if not allow_degraded:
                raise ServiceUnavailable(str(exc), deadline_exceeded=exc.deadline_exceeded) from exc
            return self._degraded(brief, started, [f"{name}:{err.kind}" for name, err in exc.failures], usage)
        if asked.value is None:
            if not allow_degraded:
                raise ServiceUnavailable(f"the model did not write valid copy ({', '.join(asked.failed)})")
            return self._degraded(brief, started, asked.failed, usage)

        variants = [self._clean(brief, v) for v in asked.value.variants[:count]]
        drafts = Drafts(variants, [brief.check(v) for v in variants])
        failing, missing = drafts.failing(), count - len(variants)
        if failing or missing > 0:
            self._regenerate(brief, drafts, asked.completion, chat, failing, missing, usage)
        completion = asked.completion
        verdict = drafts.verdict(strict=brief.options.strict)
        if not verdict.kept and allow_degraded:  # nothing usable: the facts-based copy, as when no model answers
            log.warning(
                "copy: no usable variant from %s; answering from the product's facts", completion.provider,
                extra={"reasons": [r for v in verdict.rejected for r in v.reasons][:10]},
            )
            failed = [*asked.failed, f"{completion.provider}:{NO_USABLE_VARIANT}"]
            return self._degraded(brief, started, failed, usage, rejected=verdict)
        payload = self._payload(
            brief, verdict, provider=completion.provider, model=completion.model, degraded=False,
            fallback_from=asked.failed, usage=usage,
        )
        self._count_duplicates(verdict)
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=bool(payload["variants"]), usage=usage)

    def _count_duplicates(self, verdict: Verdict) -> None:
        counted = verdict.near_duplicates
        if counted.found:
            self._metrics.copy_near_duplicates.labels("found").inc(counted.found)
        if counted.merged:
            self._metrics.copy_near_duplicates.labels("merged").inc(counted.merged)

    def _regenerate(
        self,
        brief: _Brief,
        drafts: Drafts,
        written: Completion,
        chat: ChatRequest,
        failing: list[int],
        missing: int,
        usage: Usage,
    ) -> None:
        """One more call for replacements of the failing (and missing) variants; in place.

        A failed call leaves the variants as they were: the policy then decides.
        """
        first_missing = len(drafts.variants)
        problems = [{"index": i + 1, "problems": problem_lines(drafts.checks[i], brief.language)} for i in failing]
        problems += [{"index": first_missing + j + 1, "problems": ["was not written"]} for j in range(missing)]
        message = self._prompts.regenerate(problems, brief.language)
        base = chat.follow_up(written.text, message, previous_chars=PREVIOUS_REPLY_CHARS)
        retry = self._prompts.sized(base.messages, len(problems), brief.limits, brief.language, chat.deadline)
        self._metrics.invalid_output.labels("regenerate").inc()
        try:
            completion = self._asker.complete(retry, usage)
            replacements = parse_output(completion.text, CopyOutput, provider=completion.provider).value.variants
        except AllProvidersFailed as exc:
            log.warning("copy regeneration failed; applying the policy to the first variants", extra={"error": str(exc)})
            return
        except ProviderError as exc:
            log.warning("copy regeneration unusable; applying the policy to the first variants", extra={"error": str(exc)})
            return
        targets = failing + list(range(first_missing, first_missing + missing))
        for index, variant in zip(targets, (self._clean(brief, v) for v in replacements), strict=False):
            drafts.offer(index, variant, brief.check(variant), strict=brief.options.strict)

    def _clean(self, brief: _Brief, variant: CopyVariant) -> CopyVariant:
        """The variant without markup, or links, addresses and numbers the product's data does not hold (issue 13 item 10)."""
        data = own_data(brief.product)
        clean = self._sanitizer.text
        return variant.model_copy(
            update={
                "headline": clean(variant.headline, data),
                "body": clean(variant.body, data),
                "bullets": [b for b in (clean(x, data) for x in variant.bullets) if b],
                "cta": clean(variant.cta, data),
            }
        )

    def _degraded(
        self, brief: _Brief, started: float, failed: list[str], spent: Usage, *, rejected: Verdict | None = None
    ) -> Outcome:
        """Plain copy from the product's own data; never cached, so a recovered model answers next time.

        ``rejected``: the model's verdict when it answered but no variant was usable; its rejected variants stay
        in the answer. The answer reports no calls (its copy is not a model's); ``spent`` still reaches the
        access log.
        """
        self._metrics.degraded.labels(ENDPOINT).inc()
        variant = fallback_variant(brief.product, brief.limits, brief.language)
        verdict = Drafts([variant], [brief.check(variant)]).verdict(strict=brief.options.strict)
        if rejected is not None:
            verdict = dataclasses.replace(
                verdict, rejected=rejected.rejected + verdict.rejected, near_duplicates=rejected.near_duplicates
            )
            self._count_duplicates(rejected)
        payload = self._payload(
            brief, verdict, provider=None, model=None, degraded=True, fallback_from=failed, usage=Usage()
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=False, usage=spent)

    def _payload(
        self,
        brief: _Brief,
        verdict: Verdict,
        *,
        provider: str | None,
        model: str | None,
        degraded: bool,
        fallback_from: list[str],
        usage: Usage,
    ) -> dict[str, Any]:
        answer = CopyAnswer(
            product_id=brief.product.id,
            channel=brief.options.channel,
            language=brief.language,
            variants=verdict.kept,
            checks=verdict.checks,
            rejected=verdict.rejected,
            near_duplicates=verdict.near_duplicates,
            limits=brief.limits,
            provider=provider,
            model=model,
            degraded=degraded,
            fallback_from=fallback_from,
            prompt_version=self.prompt_version,
            usage=UsageOut(llm_calls=usage.calls, tokens_in=usage.tokens_in, tokens_out=usage.tokens_out),
        )
        return answer.model_dump(mode="json")

    def _respond(self, answer: Answer, request_id: str, started: float) -> CopyResponse:
        payload = answer.payload
        if answer.cached:  # the calls were another request's
            payload["usage"] = UsageOut().model_dump()
        total_ms = (time.monotonic() - started) * 1000
        return CopyResponse.model_validate(
            {
                **payload,
                "request_id": request_id,
                "cached": answer.cached,
                "timings_ms": {"llm": round(answer.llm_ms, 3), "total": round(total_ms, 3)},
            }
        )
