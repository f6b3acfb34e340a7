"""What happens to a variant that fails a check: regenerate once, then keep, flag or drop.

The policy, in order:

1. Every variant is checked (:func:`service.copywriting.checks.check_variant`).
   A variant with *any* problem — a banned word, a compliance hit, an
   unsupported claim, a field over the channel's limit — is **regenerated once**:
   one more call asks for replacements of the failing variants only, naming each
   one's problems (the words, the claims, the fields and their limits). A
   replacement that comes out worse than the variant it replaces (more fatal
   problems, or as many and more problems) is not taken.
2. After that one regeneration, the final verdict per variant:

   ====================  ===================  ===============
   problem               strict=false         strict=true
   ====================  ===================  ===============
   banned word           dropped              dropped
   compliance hit        dropped              dropped
   over the length limit dropped              dropped
   unsupported claim     kept, flagged        dropped
   missing keyword       kept, reported       kept, reported
   ====================  ===================  ===============

   Banned words and compliance hits are never returned: they are the shop's
   and the law's hard lines. Over-limit copy is unusable where the limit is the
   platform's (a 31-character search-ad headline is rejected), so the channel
   limits always hold for returned copy. Unsupported claims are found by a
   heuristic that can be wrong both ways, so outside strict mode they are
   returned for a person to review, listed in ``checks.unsupported_claims``.

Dropped variants are reported (reasons and checks, never their text) in
``dropped_variants``; a response may hold fewer variants than asked for, or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.copywriting.checks import aggregate
from service.copywriting.schema import CopyChecks, CopyVariant
from service.respond.copy import CopyVariantOut, DroppedVariant


def needs_regeneration(checks: CopyChecks) -> bool:
    """Any problem at all (missing keywords alone are not one)."""
    return not checks.ok


def fatal_reasons(checks: CopyChecks, *, strict: bool) -> list[str]:
    """Why a variant must be dropped after its regeneration; empty when it may be returned."""
    reasons: list[str] = []
    if checks.banned_hits:
        reasons.append("banned words: " + ", ".join(checks.banned_hits))
    if checks.compliance_hits:
        reasons.append("compliance: " + ", ".join(checks.compliance_hits))
    if checks.length_problems:
        reasons.append("length: " + "; ".join(checks.length_problems))
    if strict and checks.unsupported_claims:
        reasons.append("unsupported claims: " + ", ".join(checks.unsupported_claims))
    return reasons


def problem_lines(checks: CopyChecks) -> list[str]:
    """The problems of one variant, worded for the model in the regeneration message."""
    lines: list[str] = []
    if checks.banned_hits:
        lines.append("uses words that are not allowed: " + ", ".join(checks.banned_hits))
    if checks.compliance_hits:
        lines.append("uses claims advertising rules forbid: " + ", ".join(checks.compliance_hits))
    if checks.unsupported_claims:
        lines.append("states figures the product data does not contain: " + ", ".join(checks.unsupported_claims))
    lines.extend("too long or malformed: " + p for p in checks.length_problems)
    return lines


def worse(replacement: CopyChecks, current: CopyChecks, *, strict: bool) -> bool:
    """Whether a replacement is worse than the variant it would replace: more fatal problems, or as many and
    more problems in all."""
    return _badness(replacement, strict) > _badness(current, strict)


def _badness(checks: CopyChecks, strict: bool) -> tuple[int, int]:
    problems = (
        len(checks.banned_hits) + len(checks.compliance_hits) + len(checks.length_problems) + len(checks.unsupported_claims)
    )
    return len(fatal_reasons(checks, strict=strict)), problems


@dataclass(frozen=True)
class Verdict:
    """The variants that may be returned, those dropped (reasons and checks, never their text), and the
    checks summary: of the kept variants, else of the dropped ones."""

    kept: list[CopyVariantOut]
    dropped: list[DroppedVariant]
    checks: CopyChecks


@dataclass
class Drafts:
    """The variants as they stand: the model's answer, then the replacements the policy took."""

    variants: list[CopyVariant]
    checks: list[CopyChecks]
    regenerated: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.regenerated:
            self.regenerated = [False] * len(self.variants)

    def failing(self) -> list[int]:
        """Which variants get the one regeneration."""
        return [i for i, checks in enumerate(self.checks) if needs_regeneration(checks)]

    def offer(self, index: int, variant: CopyVariant, checks: CopyChecks, *, strict: bool) -> None:
        """A regenerated variant for place ``index`` (past the end: one the model had not written).

        A replacement worse than the variant it would replace is not taken.
        """
        if index >= len(self.variants):
            self.variants.append(variant)
            self.checks.append(checks)
            self.regenerated.append(True)
        elif not worse(checks, self.checks[index], strict=strict):
            self.variants[index] = variant
            self.checks[index] = checks
            self.regenerated[index] = True

    def verdict(self, *, strict: bool) -> Verdict:
        """Keep or drop each variant, after its regeneration."""
        kept: list[CopyVariantOut] = []
        kept_checks: list[CopyChecks] = []
        dropped: list[DroppedVariant] = []
        for variant, checks, again in zip(self.variants, self.checks, self.regenerated, strict=True):
            reasons = fatal_reasons(checks, strict=strict)
            if reasons:
                dropped.append(DroppedVariant(reasons=reasons, checks=checks))
            else:
                kept.append(CopyVariantOut(**variant.model_dump(), checks=checks, regenerated=again))
                kept_checks.append(checks)
        summary = aggregate(kept_checks) if kept else aggregate([d.checks for d in dropped])
        return Verdict(kept, dropped, summary)
