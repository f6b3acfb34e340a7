"""Near-duplicate variants: variants of one product must differ.

Two variants are near-duplicates when their whole text (headline, body, bullets, call to action), NFKC-normalized,
lower-cased and with punctuation and spacing removed, has a normalized Indel similarity of
:data:`NEAR_DUPLICATE` or more (rapidfuzz's ``fuzz.ratio`` / 100: 1 - edits / total length, at the character,
so Chinese and English are measured alike). Identical variants score 1.0; a variant that changes one word of a
60-word body scores about 0.97; two variants on different angles of one product score 0.3-0.6
(bench/copy_similarity.py measures both rapidfuzz and difflib on the same pairs).

A duplicate is a later variant that nearly repeats an earlier one (the first stays): the copy policy has it
rewritten once, and one still repeating after that is merged into the earlier variant (not returned; listed in
``rejected`` with the reason, and counted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from service.copywriting.schema import CopyVariant
from service.text.phrases import normalize

NEAR_DUPLICATE = 0.9
_NOISE = re.compile(r"[\W_]+")


def comparable(variant: CopyVariant) -> str:
    """The text two variants are compared by: normalized, lower-cased, without punctuation or spaces."""
    return _NOISE.sub("", normalize(variant.text()).lower())


def similarity(a: str, b: str) -> float:
    """Normalized Indel similarity of two comparable texts, 0..1."""
    return fuzz.ratio(a, b) / 100.0


def duplicates(variants: Sequence[CopyVariant], threshold: float = NEAR_DUPLICATE) -> dict[int, int]:
    """``{later index: earlier index}`` for every variant that nearly repeats an earlier one that is not itself
    a duplicate."""
    texts = [comparable(v) for v in variants]
    found: dict[int, int] = {}
    for j in range(1, len(texts)):
        for i in range(j):
            if i in found:
                continue
            if similarity(texts[i], texts[j]) >= threshold:
                found[j] = i
                break
    return found
