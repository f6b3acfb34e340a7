"""Hold the model's picks to the contract: real candidates only, no duplicates, exactly ``k`` when possible."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.output.explain import fact_reason
from service.output.prose import grounded, says_twice, strays, usable
from service.output.sanitize import ProseSanitizer, own_data
from service.output.schema import RecommendOutput
from service.respond.recommend import RecommendedItem
from service.retrieve.base import Candidate
from service.validate.recommend import Filters

REASON_HARD_CAP = 600


@dataclass(frozen=True)
class Reconciled:
    items: list[RecommendedItem]
    invalid_ids: int = 0
    duplicate_ids: int = 0
    filled: int = 0
    replaced_reasons: int = 0


def _item(candidate: Candidate, reason: str, source: str) -> RecommendedItem:
    product = candidate.product
    return RecommendedItem(
        id=product.id,
        title=product.title,
        price=product.price,
        currency=product.currency,
        url=product.url,
        image_url=product.image_url,
        reason=reason,
        score=round(candidate.score, 4),
        source=source,  # type: ignore[arg-type]
    )


def candidate_item(candidate: Candidate, reason: str = "", source: str = "llm") -> RecommendedItem:
    """The response item for ``candidate`` (what a streamed ``item`` event carries before its reason is known)."""
    return _item(candidate, reason, source)


def _clip(reason: str) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_HARD_CAP else reason[: REASON_HARD_CAP - 1].rstrip() + "…"


_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&'. -]*")


def _names_another_brand(reason: str, candidate: Candidate, brands: set[str]) -> bool:
    """Whether ``reason`` names the brand of another candidate that its own product's data never mentions:
    a fact about the wrong product (the packaged model wrote "Alpina quality" for a Northpeak jacket).

    Only Latin-script brands of three or more letters, as whole words and as the catalog writes them:
    many brands are ordinary words too ("On" in "long walks", Chinese 毛孩子 "furry kids", 跃动 "lively"),
    and a substring match replaced good reasons. Chinese brands are not checked here.
    """
    named = [brand for brand in brands if brand in reason]  # a substring test first: most reasons name none
    if not named:
        return False
    own = " ".join(own_data(candidate.product))
    return any(brand not in own and re.search(rf"(?<!\w){re.escape(brand)}(?!\w)", reason) for brand in named)


class ReasonCheck:
    """A model's reason for a candidate as the answer shows it, or None where the facts' reason replaces it,
    as :func:`reconcile` judges: clipped, cleaned by ``sanitizer``, then usable prose (:mod:`service.output.prose`)
    naming no other candidate's brand; for a small model's answer (``grounding`` given: the shopper's words)
    also not looping in a short Chinese phrase and sharing a term other than its brand with its product's
    data, its category or those words. A stream sends a small model's reason only as this returns it."""

    def __init__(
        self,
        candidates: list[Candidate],
        language: str,
        grounding: list[str] | None = None,
        sanitizer: ProseSanitizer | None = None,
    ) -> None:
        self._by_id = {c.product.id: c for c in candidates}
        self._brands = {b for c in candidates if len(b := c.product.brand.strip()) >= 3 and _LATIN_WORD.fullmatch(b)}
        self._language = language
        self._grounding = grounding
        self._sanitizer = sanitizer

    def __call__(self, raw: str, product_id: str) -> str | None:
        candidate = self._by_id.get(product_id)
        if candidate is None:
            return None
        reason = _clip(raw)
        if self._sanitizer is not None:
            reason = self._sanitizer.text(reason, own_data(candidate.product))
        if not usable(reason, self._language, self._by_id) or _names_another_brand(reason, candidate, self._brands):
            return None
        if self._grounding is None:
            return reason
        product = candidate.product
        listed = [str(v) for values in product.attributes.values() if isinstance(values, list) for v in values]
        sources = [*own_data(product), *listed, product.category, *self._grounding]
        if says_twice(reason) or strays(reason, sources) or not grounded(reason, sources, name=product.brand or ""):
            return None
        return reason


def reconcile(
    output: RecommendOutput | None,
    candidates: list[Candidate],
    k: int,
    filters: Filters,
    language: str,
    sanitizer: ProseSanitizer | None = None,
    grounding: list[str] | None = None,
) -> Reconciled:
    """Keep the model's valid picks in its order, then fill up to ``k`` from retrieval order.

    Ids that are not candidates are dropped and counted, as are repeats; a pick
    whose reason is unusable (empty, in another script, looping, naming internal ids or another candidate's brand; see
    :mod:`service.output.prose`) keeps its place with a reason built from the product's facts.
    ``sanitizer`` first takes out markup, and links, addresses and numbers not in the product's own data.
    ``grounding`` (for a small model's answer: the shopper's request) also replaces a reason that shares no term but its brand
    with its product's data, its category or those texts (:func:`service.output.prose.grounded`).
    """
    by_id = {c.product.id: c for c in candidates}
    shown = ReasonCheck(candidates, language, grounding, sanitizer)
    items: list[RecommendedItem] = []
    seen: set[str] = set()
    invalid = duplicates = replaced = 0
    for pick in output.items if output else ():
        product_id = pick.id.strip()
        candidate = by_id.get(product_id)
        if candidate is None:
            invalid += 1
            continue
        if product_id in seen:
            duplicates += 1
            continue
        if len(items) == k:
            continue
        seen.add(product_id)
        reason = shown(pick.reason, product_id)
        if reason is None:
            reason = fact_reason(candidate, filters, language)
            replaced += 1
        items.append(_item(candidate, reason, "llm"))
    filled = 0
    for candidate in candidates:
        if len(items) == k:
            break
        if candidate.product.id in seen:
            continue
        seen.add(candidate.product.id)
        items.append(_item(candidate, fact_reason(candidate, filters, language), "retrieval"))
        filled += 1
    return Reconciled(
        items=items, invalid_ids=invalid, duplicate_ids=duplicates, filled=filled, replaced_reasons=replaced
    )
