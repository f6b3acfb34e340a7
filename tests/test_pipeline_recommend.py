"""The recommend pipeline's wiring: which prompt form each provider gets, re-asks, degraded answers, what is
counted and traced. Over the scripted upstream (real HTTP) and the demo catalog; the HTTP contract itself is
tests/test_api_recommend.py."""

from __future__ import annotations

import json

import pytest

from service.app import build_dependencies
from service.errors import ServiceUnavailable
from service.ops.metrics import Metrics
from service.ops.trace import RequestTrace
from service.output.explain import fact_summary
from service.provider.base import ChatRequest, Completion
from service.provider.chain import ProviderChain
from service.provider.openai_compat import OpenAIProvider
from service.provider.retry import RetryPolicy
from service.validate.recommend import RecommendRequest
from tests.support.openai_upstream import reply, reply_fn, status
from tests.support.picks import pick_first_k

QUERY = RecommendRequest(query="warm down jacket for winter", k=3)


class SmallModel:
    """A provider that wants the compact prompt, answering the first ids its grammar allows."""

    name = "small"
    prompt_style = "compact"

    def __init__(self, reasons: tuple[str, ...] = ("Warm and light.",)) -> None:
        self.seen: list[ChatRequest] = []
        self.reasons = reasons

    def complete(self, request: ChatRequest) -> Completion:
        compacted = request.compact is not None
        request = request.for_small_model()
        self.seen.append(request)
        schema = request.grammar_schema or {}
        ids = schema.get("$defs", {}).get("Pick", {}).get("properties", {}).get("id", {}).get("enum", [])
        picks = [{"id": pid, "reason": self.reasons[i % len(self.reasons)]} for i, pid in enumerate(ids[:2])]
        answer = {"items": picks}
        if "summary" in schema.get("properties", {"summary": {}}):  # what its grammar allows it to write
            answer["summary"] = "Two warm picks."
        text = json.dumps(answer)
        return Completion(text, self.name, "small-1", tokens_in=40, tokens_out=9,
                          prompt_style="compact" if compacted else "full")

    def describe(self):
        return {"name": self.name, "model": "small-1"}


def hosted(upstream) -> OpenAIProvider:
    return OpenAIProvider(model="gpt-4o-mini", api_key="k", base_url=upstream.base_url, retry=RetryPolicy(retries=0))


@pytest.fixture
def pipeline_with(make_settings, demo_catalog, demo_retriever):
    """The app's recommend pipeline over ``providers`` (a chain built here), its metrics and settings."""

    def build(*providers, **overrides):
        metrics = Metrics()
        settings = make_settings(**overrides)
        deps = build_dependencies(
            settings, catalog=demo_catalog, retriever=demo_retriever, chain=ProviderChain(list(providers)), metrics=metrics
        )
        return deps.recommend, metrics

    return build


def calls(metrics: Metrics, provider: str, outcome: str, model: str = "") -> float:
    labels = {"provider": provider, "model": model, "outcome": outcome}
    return metrics.registry.get_sample_value("shopguide_llm_calls_total", labels) or 0.0


def test_a_provider_that_wants_the_compact_prompt_gets_it_and_the_answer_names_its_version(upstream, pipeline_with):
    upstream.default(status(500))
    small = SmallModel()
    pipeline, metrics = pipeline_with(hosted(upstream), small)
    answer = pipeline.run(QUERY, "rid")
    assert answer.provider == "small" and answer.fallback_from == ["openai:RetryableProviderError"]
    assert answer.prompt_version != pipeline.prompt_version  # the compact templates' version
    assert len(small.seen[0].messages[1]["content"]) < len(upstream.chat_requests[0].messages[1]["content"])
    assert [i.source for i in answer.items] == ["llm", "llm", "retrieval"]  # fewer picks, filled from retrieval
    assert calls(metrics, "openai", "RetryableProviderError") == 1 and calls(metrics, "small", "ok", "small-1") == 1


def test_a_small_model_is_not_asked_for_a_summary_and_the_answer_gets_the_facts_one(pipeline_with):
    """The packaged model's summaries were unusable or invented facts; not asking saves its ~20 tokens."""
    small = SmallModel()
    pipeline, metrics = pipeline_with(small)
    answer = pipeline.run(QUERY, "rid")
    schema = small.seen[0].grammar_schema
    assert "summary" not in schema["properties"] and "summary" not in schema["required"]
    assert "summary" not in small.seen[0].messages[-1]["content"]
    assert answer.summary == fact_summary(3, "en") and not answer.degraded
    assert [i.source for i in answer.items] == ["llm", "llm", "retrieval"]
    replaced = {"stage": "summary_replaced"}
    assert metrics.registry.get_sample_value("shopguide_invalid_output_total", replaced) is None  # not asked: not invalid


def test_a_small_models_reason_naming_nothing_of_its_product_or_the_request_is_replaced(pipeline_with):
    """What the packaged model writes when it drifts: fluent-looking words that say nothing about the pick."""
    small = SmallModel(reasons=("Lovely nice choice today.", "Light for winter walks."))
    pipeline, metrics = pipeline_with(small)
    answer = pipeline.run(QUERY, "rid")
    first, second = answer.items[:2]
    assert first.source == second.source == "llm"
    assert first.reason != "Lovely nice choice today." and first.title.split()[0] in first.reason  # the facts' reason
    assert second.reason == "Light for winter walks."  # "winter" is the shopper's word
    assert metrics.registry.get_sample_value("shopguide_invalid_output_total", {"stage": "reason_replaced"}) == 1


def test_a_hosted_models_paraphrase_is_not_held_to_the_products_words(upstream, pipeline_with):
    upstream.default(reply({"items": [{"id": "SG-OUT-0017", "reason": "Lovely nice choice today."}], "summary": "Ok."}))
    pipeline, _ = pipeline_with(hosted(upstream))
    assert pipeline.run(QUERY, "rid").items[0].reason == "Lovely nice choice today."


def test_an_unusable_summary_from_a_full_prompt_is_replaced_and_counted(upstream, pipeline_with):
    upstream.default(reply({"items": [{"id": "SG-OUT-0017", "reason": "Warm and light."}], "summary": "石石石石石石"}))
    pipeline, metrics = pipeline_with(hosted(upstream))
    answer = pipeline.run(QUERY, "rid")
    assert answer.summary == fact_summary(3, "en")
    assert metrics.registry.get_sample_value("shopguide_invalid_output_total", {"stage": "summary_replaced"}) == 1


def test_without_a_compact_provider_no_compact_form_is_built(upstream, pipeline_with):
    seen: list[ChatRequest] = []

    class Recording:
        name = "hosted"

        def complete(self, request: ChatRequest) -> Completion:
            seen.append(request)
            return Completion(json.dumps({"items": [], "summary": "Here you go."}), self.name, "big")

        def describe(self):
            return {"name": self.name, "model": "big"}

    pipeline, _ = pipeline_with(Recording())
    answer = pipeline.run(QUERY, "rid")
    assert seen[0].compact is None and answer.prompt_version == pipeline.prompt_version


def test_a_re_ask_is_answered_counted_and_traced(upstream, pipeline_with):
    upstream.script(reply("these are not picks"), reply_fn(pick_first_k))
    pipeline, metrics = pipeline_with(hosted(upstream))
    trace = RequestTrace()
    answer = pipeline.run(QUERY, "rid", trace)
    assert not answer.degraded and answer.provider == "openai" and upstream.calls == 2
    assert all(i.source == "llm" for i in answer.items)
    assert metrics.invalid_output.labels("reask")._value.get() == 1
    assert calls(metrics, "openai", "ok", "gpt-4o-mini") == 2
    assert trace.tokens_in > 0 and trace.provider == "openai" and trace.cached is False


def test_a_re_ask_that_finds_no_provider_degrades_and_counts_the_failure(upstream, pipeline_with):
    upstream.script(reply("these are not picks"), status(500))
    pipeline, metrics = pipeline_with(hosted(upstream))
    answer = pipeline.run(QUERY, "rid")
    assert answer.degraded and answer.fallback_from == ["openai:InvalidOutput"]
    assert calls(metrics, "openai", "RetryableProviderError") == 1  # the re-ask's failed call is counted too
    assert metrics.invalid_output.labels("failed")._value.get() == 1
    assert not pipeline.run(QUERY, "rid2").cached  # a degraded answer is never cached


def test_no_provider_and_no_degraded_answers_is_unavailable(upstream, pipeline_with):
    upstream.default(status(500))
    pipeline, metrics = pipeline_with(hosted(upstream), degraded_answers=False)
    with pytest.raises(ServiceUnavailable):
        pipeline.run(QUERY, "rid")
    assert calls(metrics, "openai", "RetryableProviderError") == 1


def test_no_candidates_answers_at_once_and_traces_it(upstream, pipeline_with):
    pipeline, _ = pipeline_with(hosted(upstream))
    trace = RequestTrace()
    answer = pipeline.run(RecommendRequest(query="zzzz qqqq xxyy"), "rid", trace)
    assert answer.items == [] and not answer.degraded and upstream.calls == 0
    assert (trace.provider, trace.cached, trace.degraded) == (None, False, False)
