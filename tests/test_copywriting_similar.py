"""Issue 14 item 2: near-duplicate variants are found (and the policy merges or regenerates them)."""

from __future__ import annotations

from service.copywriting.checks import mark_duplicates
from service.copywriting.policy import Drafts
from service.copywriting.schema import CopyChecks, CopyVariant
from service.copywriting.similar import comparable, duplicates, similarity


def v(body: str, headline: str = "VoltGo Slim Power Bank", cta: str = "Shop now") -> CopyVariant:
    return CopyVariant(headline=headline, body=body, bullets=["USB-C", "120g"], cta=cta)


BODY = "A slim 5000mAh power bank with USB-C and 20W fast charging that weighs only 120g, for every trip."


def test_identical_and_near_identical_variants_are_duplicates():
    same = v(BODY)
    punctuated = v(BODY.upper().replace(",", "").replace(".", "!"))
    one_word = v(BODY.replace("every trip", "each trip"))
    different = v("Charge your phone twice on one 5000mAh charge, then forget it in a jacket pocket.", cta="Add to cart")
    assert duplicates([same, same, same]) == {1: 0, 2: 0}
    assert duplicates([same, punctuated, one_word, different]) == {1: 0, 2: 0}
    assert similarity(comparable(same), comparable(different)) < 0.7


def test_chinese_near_duplicates():
    a = CopyVariant(headline="雪域长款鹅绒羽绒服", body="90%白鹅绒，充绒量280g，零下25℃也从容。", bullets=["长款"], cta="立即购买")
    b = CopyVariant(headline="雪域长款鹅绒羽绒服", body="90%白鹅绒，充绒量280g，零下25℃也很从容！", bullets=["长款"], cta="立即购买")
    c = CopyVariant(headline="过膝长款，把风挡在膝盖以下", body="毛领可拆卸，下摆双向拉链，骑车也不拘束。", bullets=["防泼水"], cta="去看看")
    assert duplicates([a, b, c]) == {1: 0}


def test_marks_are_one_based_and_a_duplicate_of_a_duplicate_points_at_the_first():
    same = v(BODY)
    checks = mark_duplicates([same, same, same], [CopyChecks()] * 3)
    assert [c.duplicate_of for c in checks] == [None, 1, 1] and not checks[1].ok


def test_the_verdict_merges_repeats_of_returned_variants_only():
    same, other = v(BODY), v("Charge your phone twice on one charge.", cta="Add to cart")
    banned = CopyChecks(banned_words_ok=False, banned_hits=["slim"])
    # the first is dropped for a banned word: its copy is not a reason to drop the second
    verdict = Drafts([same, same, other], [banned, CopyChecks(), CopyChecks()]).verdict(strict=False)
    assert len(verdict.kept) == 2 and verdict.near_duplicates.merged == 0
    verdict = Drafts([same, other, same], [CopyChecks()] * 3).verdict(strict=False)
    assert len(verdict.kept) == 2 and verdict.rejected[0].reasons == ["near-duplicate of variant 1"]
    assert verdict.near_duplicates.found == 1 and verdict.near_duplicates.merged == 1
