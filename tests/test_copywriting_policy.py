"""The keep/drop policy on checked variants: regeneration, replacements that are not taken, the verdict."""

from __future__ import annotations

from service.copywriting.policy import Drafts, fatal_reasons, worse
from service.copywriting.schema import CopyChecks, CopyVariant

CLEAN = CopyChecks()
CLAIM = CopyChecks(unsupported_claims=["50% longer battery"])
BANNED = CopyChecks(banned_words_ok=False, banned_hits=["cheap"])


def variant(headline: str) -> CopyVariant:
    return CopyVariant(headline=headline, body=f"{headline} " * 5, bullets=["One"], cta="Buy")  # variants differ


def test_fatal_reasons_follow_the_table():
    assert fatal_reasons(BANNED, strict=False) == ["banned words: cheap"]
    assert fatal_reasons(CLAIM, strict=False) == []  # kept and flagged outside strict mode
    assert fatal_reasons(CLAIM, strict=True) == ["unsupported claims: 50% longer battery"]


def test_a_worse_replacement_is_not_taken_and_a_missing_variant_is_added():
    assert worse(BANNED, CLAIM, strict=False) and not worse(CLAIM, BANNED, strict=False)
    drafts = Drafts([variant("a"), variant("b")], [CLAIM, BANNED])
    assert drafts.failing() == [0, 1]
    drafts.offer(0, variant("a2"), BANNED, strict=False)  # a flagged claim swapped for a banned word: refused
    drafts.offer(1, variant("b2"), CLEAN, strict=False)
    drafts.offer(2, variant("c"), CLEAN, strict=False)  # one the model had not written
    assert [v.headline for v in drafts.variants] == ["a", "b2", "c"] and drafts.regenerated == [False, True, True]


def test_the_verdict_keeps_flags_and_lists_rejected_variants_with_their_text():
    drafts = Drafts([variant("kept"), variant("flagged"), variant("dropped")], [CLEAN, CLAIM, BANNED])
    lenient = drafts.verdict(strict=False)
    assert [v.headline for v in lenient.kept] == ["kept", "flagged"]
    assert lenient.rejected[0].reasons == ["banned words: cheap"] and lenient.rejected[0].headline == "dropped"
    assert lenient.checks.unsupported_claims == ["50% longer battery"]  # the summary of what is returned
    strict = drafts.verdict(strict=True)
    assert [v.headline for v in strict.kept] == ["kept"] and len(strict.rejected) == 2
    nothing = Drafts([variant("x")], [BANNED]).verdict(strict=False)
    assert nothing.kept == [] and nothing.checks.banned_hits == ["cheap"]  # all dropped: their checks summarized
