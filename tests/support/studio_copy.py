"""A scripted copy model for studio tests: grounded copy, plus one sentence with a number the product does not back.

:func:`copy_with_claim` is the scripted upstream's ``reply_fn``: variant 1's body gets
:data:`CLAIM_SENTENCE` (:data:`CLAIM_SENTENCE_EN` in English copy; the product data says nothing about 99 hours), so the grounding
check flags exactly that sentence.
"""

from __future__ import annotations

from typing import Any

from tests.support.copywriter import _cut, _limits, _message, write_copy
from tests.support.picks import pick_first_k

CLAIM = "99小时"
CLAIM_SENTENCE = "一次充电可连续使用99小时。"
CLAIM_EN = "99 hours"
CLAIM_SENTENCE_EN = "Runs for 99 hours on one charge. "


def copy_with_claim(body: dict[str, Any]) -> dict[str, Any]:
    answer = write_copy(body)
    first = answer["variants"][0]
    system = _message(body, "system")
    sentence = CLAIM_SENTENCE if "Simplified Chinese" in system else CLAIM_SENTENCE_EN
    first["body"] = _cut(sentence + first["body"], _limits(system)["body"])
    return answer


def is_copy_request(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    return "variants" in schema.get("properties", {})


def shop_model(body: dict[str, Any]) -> dict[str, Any]:
    """Copy requests get :func:`copy_with_claim`, recommend requests :func:`pick_first_k`."""
    return copy_with_claim(body) if is_copy_request(body) else pick_first_k(body)
