"""Realistic recommendation requests for the local model: demo-catalog candidates, real prompts, real schemas.

Shared by tests/test_provider_local.py and bench/local_model.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from service.catalog.load import load_catalog
from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_grammar_schema, recommend_schema
from service.prompt.facts import compact_facts, prompt_facts
from service.prompt.language import language_name
from service.prompt.recommend import COMPACT, ENDPOINT
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest
from service.retrieve.base import Candidate
from service.settings import REPO_ROOT

CANDIDATES_PER_CASE = 6  # the pipeline's default SHOPGUIDE_LOCAL_CANDIDATES


@dataclass(frozen=True)
class RecommendCase:
    query: str
    language: str
    categories: tuple[str, ...]  # category prefixes the candidates come from, in order
    k: int = 3


CASES: tuple[RecommendCase, ...] = (
    RecommendCase("a warm down jacket for minus 20 degree winters", "en", ("Clothing/Outerwear/Down",)),
    RecommendCase("gaming laptop under $1500 with a good GPU", "en", ("Electronics/Computers/Laptops",), k=2),
    RecommendCase("a small power bank I can take on a plane", "en", ("Electronics/Phones/Power Banks",), k=2),
    RecommendCase("espresso machine for a beginner", "en", ("Home/Kitchen/Coffee", "Grocery/Coffee")),
    RecommendCase("cushioned running shoes for marathon training", "en", ("Shoes/Running",), k=2),
    RecommendCase("sunscreen for sensitive skin", "en", ("Beauty/Skincare",), k=2),
    RecommendCase("我想买一款适合冬天穿的羽绒服", "zh", ("Clothing/Outerwear/Down",)),
    RecommendCase("两千元以内的智能手机，拍照要好", "zh", ("Electronics/Phones/Smartphones",), k=2),
    RecommendCase("适合通勤的降噪耳机", "zh", ("Electronics/Audio",), k=2),
    RecommendCase("送给爸爸的好茶叶", "zh", ("Grocery/Tea",), k=2),
    RecommendCase("下雨天骑车穿的防水外套", "zh", ("Clothing/Outerwear/Rain Jackets", "Clothing/Outerwear"), k=2),
    RecommendCase("给猫咪买的健康猫粮", "zh", ("Pets",), k=2),
)


@dataclass(frozen=True)
class BuiltCase:
    case: RecommendCase
    candidate_ids: tuple[str, ...]
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]
    grammar_schema: dict[str, Any]

    def request(self, *, deadline_s: float = 600.0, max_tokens: int = 800, temperature: float = 0.0) -> ChatRequest:
        return ChatRequest(
            messages=self.messages,
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self.schema,
            grammar_schema=self.grammar_schema,
            deadline=time.monotonic() + deadline_s,
            temperature=temperature,
            max_tokens=max_tokens,
        )


def build_cases(
    *, reason_max_chars: int = 120, summary_max_chars: int | None = None, compact: bool = True
) -> list[BuiltCase]:
    """Every case with its candidates from the demo catalog, rendered by the real templates.

    ``compact`` (the default) is what the pipeline sends a local model: the compact templates and facts,
    and (``summary_max_chars=None``) no summary in the schema.
    """
    facts = compact_facts if compact else prompt_facts
    catalog = load_catalog()
    renderer = PromptRenderer(REPO_ROOT / "prompts")
    built = []
    for case in CASES:
        products = [p for prefix in case.categories for p in catalog.products if p.category.startswith(prefix)]
        chosen = list({p.id: p for p in products}.values())[:CANDIDATES_PER_CASE]
        if len(chosen) < CANDIDATES_PER_CASE:
            raise AssertionError(f"demo catalog has too few products for {case.query!r}")
        candidates = [Candidate(product=p, score=1.0 / (rank + 1)) for rank, p in enumerate(chosen)]
        ids = tuple(p.id for p in chosen)
        context = {"query": case.query, "k": case.k, "language_name": language_name(case.language),
                   "candidates": [facts(c) for c in candidates], "filters": None, "history": []}
        rendered = renderer.render(COMPACT, **context) if compact else renderer.render(ENDPOINT, **context, profile=None)
        grammar = recommend_grammar_schema(
            list(ids), case.k, reason_max_chars=reason_max_chars, summary_max_chars=summary_max_chars
        )
        built.append(BuiltCase(case, ids, rendered.messages, recommend_schema(), grammar))
    return built
