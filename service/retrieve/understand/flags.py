"""Soft price signals and stock wishes in a shopper's words: cheap, premium, in stock, out of stock is fine.

cheap / premium are set whether or not a number was given. "性价比高" / "value for money" is *not* cheap:
such shoppers accept mid-range prices, so it stays in the query for ranking. "not too X"/"不要太X" is a
degree: "不要太贵" is cheap, "not cheap" is premium. ``in_stock`` is True for "in stock/有货/现货", False
for "even if out of stock/缺货也行"; otherwise unset.
"""

from __future__ import annotations

import re
from typing import Any

_PREMIUM = (
    r"(?<![a-z])(?:premium|luxury|luxurious|high[- ]end|top[- ](?:of[- ]the[- ]line|tier|end|notch|quality)"
    r"|flagship|upscale|money is no (?:object|issue)|price (?:is no object|doesn'?t matter|is not an issue)"
    r"|best money can buy|(?:don'?t|do not) (?:mind|care about) (?:paying more|spending more|the price|price)"
    r"|(?:nothing|not) (?:too )?cheap)(?![a-z])"
    r"|高端|高档|奢侈|奢华|轻奢|旗舰(?!店)|顶级|顶配|贵(?:一)?[点些](?:也|了)?(?:没关系|无所谓|没事|可以|也行|行)"
    r"|贵也(?:没关系|无所谓|没事|行)|不差钱|(?:不在乎|不考虑|不管)(?:价格|价钱|钱)|价格(?:不是问题|无所谓|不限)"
    r"|钱不是问题|预算(?:充足|不限|无上限|充裕)|(?:不要|别)(?:太)?便宜(?:的|货)?"
)
_CHEAP = (
    r"(?<![a-z])(?:on a budget|cheap(?:er|est)?|inexpensive|affordable|budget(?:[- ]friendly)?"
    r"|low[- ](?:cost|priced|price)|bargain|economical|wallet[- ]friendly"
    r"|(?:nothing|not) (?:too |that |so |very )?(?:expensive|pricey|pricy|costly)"
    r"|(?:don'?t|do not) (?:want to )?spend (?:too much|a lot|much))(?![a-z])"
    r"|便宜(?:一?点儿?|一些|些)?的?|实惠|平价|低价|省钱|白菜价|(?<!贵)(?:不|别)(?:要|想|用|能)?买?(?:太|那么|很)?贵的?"
    r"|价格(?:低|便宜)|(?:预算|钱)(?:有限|不多|紧张?)"
)
_ANY_STOCK = (
    r"(?<![a-z])(?:even (?:if )?(?:it'?s |they'?re )?out[- ]of[- ]stock|includ(?:e|ing) out[- ]of[- ]stock"
    r"|out[- ]of[- ]stock (?:is )?(?:ok|okay|fine))(?![a-z])|缺货(?:的)?也(?:行|可以|没关系)|(?:包括|包含)缺货|无货也(?:行|可以)"
)
_IN_STOCK = (
    r"(?<![a-z])(?:in[- ]stock|available now|ready to ship|ships? (?:today|now|immediately))(?![a-z])"
    r"|有现货|有货|现货|有库存"
)
# One pass for all four; where two could start at one place the earlier alternative wins
# ("not cheap" is premium, "不要太贵" is cheap).
_FLAGS = re.compile(
    r"(?=(?<![a-z])[a-z]|[高奢轻旗顶贵不价钱预别便实平低省白缺包无有现])"
    rf"(?:(?P<premium>{_PREMIUM})|(?P<cheap>{_CHEAP})|(?P<any_stock>{_ANY_STOCK})|(?P<in_stock>{_IN_STOCK}))",
    re.IGNORECASE,
)


def read_flags(text: str) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """``cheap``, ``premium`` and ``in_stock`` as stated in ``text``, and the spans that stated them."""
    out: dict[str, Any] = {}
    spans: list[tuple[int, int]] = []
    for m in _FLAGS.finditer(text):
        if m.group("premium") is not None:
            out["premium"] = True
        elif m.group("cheap") is not None:
            out["cheap"] = True
        else:
            out["in_stock"] = m.group("in_stock") is not None
        spans.append(m.span())
    return out, spans
