"""Findings of the copy checks placed on the sentence they concern, with why, for reviewers.

The checks report what they found as written (a term, a claim such as ``48小时``);
this module finds the sentence of the variant that holds it, field by field, so
the studio can mark that sentence and say why.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from service.copywriting.schema import CopyChecks, CopyVariant

# A sentence ends at CJK or Latin end punctuation (kept with it) or a line break.
_SENTENCE = re.compile(r"[^。！？!?；;\n.]+(?:[。！？!?；;.]+|$)")

WHY = {
    "unsupported_claim": {
        "en": "a number the product data does not back",
        "zh": "商品数据中没有依据的数字",
    },
    "compliance": {
        "en": "a word advertising rules forbid or require proof for in this market",
        "zh": "广告法禁止或需要证明的用语",
    },
    "banned": {"en": "one of your banned words", "zh": "你设置的禁用词"},
    "length": {"en": "over the channel's length limit", "zh": "超出渠道的长度限制"},
}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def sentences(variant: CopyVariant) -> list[dict[str, Any]]:
    """Each field's sentences: ``{field, index, sentence, start, end}`` (offsets within that field's text)."""
    out: list[dict[str, Any]] = []
    fields = [("headline", variant.headline), ("body", variant.body)]
    fields += [(f"bullets.{i}", b) for i, b in enumerate(variant.bullets)] + [("cta", variant.cta)]
    for name, text in fields:
        for i, m in enumerate(_SENTENCE.finditer(text)):
            if m.group().strip():
                out.append({"field": name, "index": i, "sentence": m.group(), "start": m.start(), "end": m.end()})
    return out


def _locate(parts: list[dict[str, Any]], needle: str) -> dict[str, Any] | None:
    folded = _fold(needle)
    for part in parts:
        if folded and folded in _fold(part["sentence"]):
            return part
    return None


def findings(variant: CopyVariant, checks: CopyChecks) -> list[dict[str, Any]]:
    """Every finding that blocks a plain approval, on its sentence: ``{kind, text, why, field, sentence, ...}``.

    ``field``/``sentence`` are None for a finding about the whole variant (a length problem).
    """
    parts = sentences(variant)
    found: list[dict[str, Any]] = []

    def add(kind: str, text: str) -> None:
        where = _locate(parts, text)
        found.append(
            {
                "kind": kind,
                "text": text,
                "why": WHY[kind],
                "field": where["field"] if where else None,
                "sentence": where["sentence"] if where else None,
                "start": where["start"] if where else None,
                "end": where["end"] if where else None,
            }
        )

    for claim in checks.unsupported_claims:
        add("unsupported_claim", claim)
    for term in checks.compliance_hits:
        add("compliance", term)
    for word in checks.banned_hits:
        add("banned", word.rstrip("*"))
    for problem in checks.length_problems:
        field = problem.split(":", 1)[0].strip() if ":" in problem else None
        found.append(
            {"kind": "length", "text": problem, "why": WHY["length"], "field": field, "sentence": None, "start": None,
             "end": None}
        )
    return found
