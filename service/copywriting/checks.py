"""All copy checks for one variant, and their roll-up over several variants."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from service.catalog.product import Product
from service.copywriting.channels import ChannelLimits, check_length
from service.copywriting.compliance import ComplianceBook, ComplianceRules, find_banned, has_certification
from service.copywriting.grounding import ProductFacts, product_facts, unsupported_claims
from service.copywriting.language import language_problems, product_words
from service.copywriting.schema import CopyChecks, CopyVariant
from service.copywriting.similar import duplicates
from service.text.phrases import PhraseIndex


def keyword_coverage(text: str, keywords: Sequence[str]) -> tuple[list[str], list[str]]:
    """(covered, missing) keywords, as given; case-insensitive and NFKC-normalized.

    A Latin keyword must start a word but may be inflected (``jacket`` covers
    ``jackets``); a Chinese keyword matches as a substring.
    """
    wanted = dedupe(k for k in keywords if k and k.strip())
    index: PhraseIndex[Hashable] = PhraseIndex()
    keys: dict[str, Hashable] = {}
    for keyword in wanted:
        key = keys[keyword] = index.key(f"{keyword}*")  # a prefix: inflections count
        index.add(f"{keyword}*", key)
    found = {m.value for m in index.find_all(text)}  # all, not leftmost-longest: "down jacket" holds "jacket"
    covered = [k for k in wanted if keys[k] in found]
    missing = [k for k in wanted if keys[k] not in found]
    return covered, missing


def check_variant(
    variant: CopyVariant,
    product: Product | ProductFacts,
    *,
    limits: ChannelLimits | None = None,
    keywords: Sequence[str] = (),
    banned_words: Sequence[str] = (),
    compliance: ComplianceRules | ComplianceBook | None = None,
    language: str | None = None,
) -> CopyChecks:
    """Run every check on one variant. ``limits``/``compliance``/``language`` None skip those checks.

    A :class:`ComplianceBook` checks the text against the lists of every script it holds (English copy
    carrying "全网最低价" meets the zh list), not only ``language``'s. ``language`` also checks that the
    copy is written in that language (:mod:`service.copywriting.language`). The product's brand is never a
    compliance hit (a brand named 永久 is no claim).
    """
    facts = product if isinstance(product, ProductFacts) else product_facts(product)
    text = variant.text()
    banned = find_banned(text, banned_words)
    compliance_hits: list[str] = []
    if compliance is not None:
        rules = compliance.for_text(text, language) if isinstance(compliance, ComplianceBook) else compliance
        compliance_hits = rules.find(text, certified=has_certification(facts.product), allow=(facts.product.brand,))
    wrong_language = language_problems(variant, language, product_words(facts.product)) if language else []
    covered, missing = keyword_coverage(text, keywords)
    length_problems = check_length(variant, limits) if limits is not None else []
    return CopyChecks(
        banned_words_ok=not banned,
        banned_hits=banned,
        compliance_hits=compliance_hits,
        keywords_covered=covered,
        keywords_missing=missing,
        unsupported_claims=unsupported_claims(text, facts),
        length_ok=not length_problems,
        length_problems=length_problems,
        language_problems=wrong_language,
    )


def check_variants(
    variants: Sequence[CopyVariant],
    product: Product | ProductFacts,
    *,
    limits: ChannelLimits | None = None,
    keywords: Sequence[str] = (),
    banned_words: Sequence[str] = (),
    compliance: ComplianceRules | ComplianceBook | None = None,
    language: str | None = None,
) -> list[CopyChecks]:
    """:func:`check_variant` for each variant, reading the product data once; near-duplicates are marked."""
    facts = product if isinstance(product, ProductFacts) else product_facts(product)
    checks = [
        check_variant(
            v, facts, limits=limits, keywords=keywords, banned_words=banned_words, compliance=compliance,
            language=language,
        )
        for v in variants
    ]
    return mark_duplicates(variants, checks)


def aggregate(checks: Sequence[CopyChecks]) -> CopyChecks:
    """The worst case over several variants.

    Hits, claims and missing keywords are unions (first appearance kept); a
    keyword is covered only when every variant covers it; the ``*_ok`` flags
    hold only when they hold for every variant; length problems are prefixed
    with ``variant <i>: ``. No checks at all aggregate to a clean report.
    """
    if not checks:
        return CopyChecks()
    covered = [k for k in checks[0].keywords_covered if all(k in c.keywords_covered for c in checks)]
    return CopyChecks(
        banned_words_ok=all(c.banned_words_ok for c in checks),
        banned_hits=dedupe(h for c in checks for h in c.banned_hits),
        compliance_hits=dedupe(h for c in checks for h in c.compliance_hits),
        keywords_covered=covered,
        keywords_missing=dedupe(k for c in checks for k in c.keywords_missing),
        unsupported_claims=dedupe(u for c in checks for u in c.unsupported_claims),
        length_ok=all(c.length_ok for c in checks),
        length_problems=[f"variant {i}: {p}" for i, c in enumerate(checks) for p in c.length_problems],
        language_problems=[f"variant {i}: {p}" for i, c in enumerate(checks) for p in c.language_problems],
    )


def dedupe(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, first appearance kept."""
    return list(dict.fromkeys(items))


def mark_duplicates(variants: Sequence[CopyVariant], checks: Sequence[CopyChecks]) -> list[CopyChecks]:
    """``checks`` with ``duplicate_of`` set (1-based) on each variant that nearly repeats an earlier one, and
    cleared on the others (:mod:`service.copywriting.similar`)."""
    found = duplicates(variants)
    return [
        c.model_copy(update={"duplicate_of": found[i] + 1 if i in found else None})
        if c.duplicate_of != (found[i] + 1 if i in found else None)
        else c
        for i, c in enumerate(checks)
    ]
