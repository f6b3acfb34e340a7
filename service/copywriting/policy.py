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
   wrong language        dropped              dropped
   near-duplicate        merged (dropped)     merged (dropped)
   missing keyword       kept, reported       kept, reported
   ====================  ===================  ===============

   Banned words and compliance hits are never returned: they are the shop's
   and the law's hard lines. Over-limit copy is unusable where the limit is the
   platform's (a 31-character search-ad headline is rejected), so the channel
   limits always hold for returned copy. Unsupported claims are found by a
   heuristic that can be wrong both ways, so outside strict mode they are
   returned for a person to review, listed in ``checks.unsupported_claims``.
   Copy in the wrong language (:mod:`service.copywriting.language`) is unusable
   where it was asked for. A variant that nearly repeats an earlier returned one
   (:mod:`service.copywriting.similar`) is merged into it: variants must differ.

Every variant not returned is in ``rejected``, with its text and the reasons: the
ones dropped, and the ones a regeneration replaced (``outcome: "replaced"``), so a
marketer sees what was wrong. A response may hold fewer variants than asked for; one
with none is answered from the product's facts, marked degraded (see
:mod:`service.pipeline.copy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.copywriting.checks import aggregate, mark_duplicates
from service.copywriting.language import language_name
from service.copywriting.schema import CopyChecks, CopyVariant
from service.copywriting.similar import duplicates
from service.respond.copy import CopyVariantOut, NearDuplicates, RejectedVariant


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
    if checks.language_problems:
        reasons.append("language: " + "; ".join(checks.language_problems))
    if checks.duplicate_of is not None:
        reasons.append(f"near-duplicate of variant {checks.duplicate_of}")
    return reasons


def problem_lines(checks: CopyChecks, language: str = "") -> list[str]:
    """The problems of one variant, worded for the model in the regeneration message."""
    lines: list[str] = []
    if checks.duplicate_of is not None:
        lines.append(
            f"nearly repeats variant {checks.duplicate_of}: write a different variant (another angle, other words)"
        )
    if checks.language_problems:
        want = language_name(language.split("-")[0]) if language else "the requested language"
        lines.append(f"is not written in {want}: " + "; ".join(checks.language_problems))
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
        len(checks.banned_hits) + len(checks.compliance_hits) + len(checks.length_problems)
        + len(checks.unsupported_claims) + len(checks.language_problems) + (checks.duplicate_of is not None)
    )
    return len(fatal_reasons(checks, strict=strict)), problems


@dataclass(frozen=True)
class Verdict:
    """The variants that may be returned, those rejected (text, reasons, checks), the near-duplicates counted,
    and the checks summary: of the kept variants, else of the dropped ones."""

    kept: list[CopyVariantOut]
    rejected: list[RejectedVariant]
    checks: CopyChecks
    near_duplicates: NearDuplicates = field(default_factory=NearDuplicates)


@dataclass
class Drafts:
    """The variants as they stand: the model's answer, then the replacements the policy took.

    Near-duplicates are marked on the checks (``duplicate_of``) as the drafts are made, so they are among the
    :meth:`failing` variants that get the one regeneration.
    """

    variants: list[CopyVariant]
    checks: list[CopyChecks]
    regenerated: list[bool] = field(default_factory=list)
    replaced: list[tuple[CopyVariant, CopyChecks]] = field(default_factory=list)
    duplicates_found: int = 0

    def __post_init__(self) -> None:
        if not self.regenerated:
            self.regenerated = [False] * len(self.variants)
        self.checks = mark_duplicates(self.variants, self.checks)
        self.duplicates_found = sum(c.duplicate_of is not None for c in self.checks)

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
            self.replaced.append((self.variants[index], self.checks[index]))
            self.variants[index] = variant
            self.checks[index] = checks
            self.regenerated[index] = True

    def verdict(self, *, strict: bool) -> Verdict:
        """Keep or drop each variant, after its regeneration; then merge the kept ones that nearly repeat an
        earlier kept one (``duplicate_of`` then numbers the variant it repeats among the returned ones)."""
        checks = [c.model_copy(update={"duplicate_of": None}) if c.duplicate_of is not None else c for c in self.checks]
        usable = [i for i, c in enumerate(checks) if not fatal_reasons(c, strict=strict)]
        repeats = duplicates([self.variants[i] for i in usable])
        position: dict[int, int] = {}  # draft index -> 1-based number among the returned variants
        for k, i in enumerate(usable):
            if k in repeats:
                checks[i] = checks[i].model_copy(update={"duplicate_of": position[usable[repeats[k]]]})
            else:
                position[i] = len(position) + 1
        kept: list[CopyVariantOut] = []
        kept_checks: list[CopyChecks] = []
        rejected: list[RejectedVariant] = []
        for variant, check, again in zip(self.variants, checks, self.regenerated, strict=True):
            reasons = fatal_reasons(check, strict=strict)
            if reasons:
                rejected.append(RejectedVariant(**variant.model_dump(), reasons=reasons, checks=check))
            else:
                kept.append(CopyVariantOut(**variant.model_dump(), checks=check, regenerated=again))
                kept_checks.append(check)
        for variant, check in self.replaced:
            reasons = fatal_reasons(check, strict=strict) or [
                "regenerated: " + "; ".join(problem_lines(check))
            ]
            rejected.append(RejectedVariant(**variant.model_dump(), reasons=reasons, checks=check, outcome="replaced"))
        dropped = [r.checks for r in rejected if r.outcome == "dropped"]
        summary = aggregate(kept_checks) if kept else aggregate(dropped)
        counted = NearDuplicates(found=self.duplicates_found, merged=len(repeats))
        return Verdict(kept, rejected, summary, counted)
