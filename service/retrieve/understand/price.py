"""Price constraints in a shopper's words: bounds, ranges, "around X" bands and the currency written.

"under/below/less than/max/up to/不超过/以内/以下" give ``price_max``; "over/at least/以上/起" give
``price_min``; "X-Y", "between X and Y", "X到Y", "X-Y之间" give both. "around/about/左右/上下" and a lone
amount with a currency ("a $200 jacket", "200元的耳机") give a band of X ±20% (:data:`APPROX_BAND`).
"budget of X"/"预算X" is an upper bound ("预算X左右" is the band). A bare number is a price only next to
such a price word and never when a unit follows ("32 inch", "5000mAh", "65寸", "2 pack"); a Chinese
numeral must hold a magnitude (十百千万) or carry a currency. Bounds that contradict each other are all
dropped. ``currency`` is set only when written ($, usd, dollars, 元, 块, rmb, ¥ ...); what an ambiguous
marker means comes from :func:`service.text.currency.currency_of` with the catalog's currency, the
same answer the copy grounding check gives.
"""

from __future__ import annotations

import re
from typing import Any

from service.text.currency import currency_of
from service.text.numbers import CJK_MAGNITUDES, CJK_NUMERAL_CHARS, parse_number

APPROX_BAND = 0.20
""""around X" means X × (1 ± APPROX_BAND)."""

_CJK_NUM = f"[{CJK_NUMERAL_CHARS}]"
_CUR_PRE = r"(?:us\$|\$|¥|€|£|(?<![a-z])(?:usd|rmb|cny|eur|gbp)(?![a-z])|人民币)"
_CUR_POST = (
    r"(?:块钱|块|元|人民币|美元|美金|欧元|英镑|刀|\$|(?:dollars?|bucks?|usd|rmb|cny|yuan|eur|euros?|gbp)(?![a-z]))"
)
# Every marker these match is in service.text.currency's table (tests check the list below).
CURRENCY_MARKERS = (
    "us$", "$", "¥", "€", "£", "usd", "rmb", "cny", "eur", "gbp", "人民币", "块钱", "块", "元", "美元", "美金", "欧元",
    "英镑", "刀", "dollar", "dollars", "buck", "bucks", "yuan", "euro", "euros",
)
# A Chinese numeral without a magnitude ("一", "五") is a price only with one of these after it.
_STRONG_CJK_CURRENCY = frozenset({"元", "块钱", "人民币", "美元", "美金", "欧元", "英镑"})
# Any of these right after a number means it measures something else than money.
_UNITS = (
    r"(?:(?:inch(?:es)?|in\.|ft|feet|foot|cm|mm|m|meters?|metres?|km|kg|g|grams?|lbs?|oz|ml|l|liters?|litres?"
    r"|mah|wh|w|watts?|v|volts?|hz|khz|mhz|ghz|gb|tb|mb|mp|fps|packs?|pk|pcs|pieces?|pairs?|sets?|count|ct|x"
    r"|people|persons?|players?|seats?|years?|yrs?|yo|months?|weeks?|days?|hours?|hrs?|h|minutes?|mins?"
    r"|seconds?|series|th|st|nd|rd|gen|generation|cores?|bits?|layers?|ply|stars?|rpm|degrees?)(?![a-z])"
    r'|["”″°%]|英寸|寸|吋|毫安|千克|克|公斤|斤|毫升|升|千瓦|瓦|伏|年|个月|月|天|日|周|小时|分钟|秒|个|件|双|只'
    r"|包|瓶|盒|支|片|粒|袋|条|套|台|部|张|本|人|岁|千米|厘米|毫米|米|码|号|度|核|代|层|吨|平米|平方|匹|档|倍|折)"
)

# "4k tv": a k-number before these is a resolution.
_RESOLUTION_WORDS = (
    r"(?:tvs?|televisions?|monitors?|displays?|screens?|resolution|video|uhd|hdr|oled|qled|cameras?)(?![a-z])"
)


def _amount(tag: str) -> str:
    """A money amount; groups ``{tag}pre``, ``{tag}num``, ``{tag}mult``, ``{tag}post``."""
    return (
        rf"(?P<{tag}pre>{_CUR_PRE})?\s?"
        rf"(?P<{tag}num>(?({tag}pre)|(?<![a-z0-9.]))"
        rf"(?>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
        rf"(?>(?:\s?(?P<{tag}mult>k(?![a-z])|千|万))?)"
        rf"|(?<!{_CJK_NUM}){_CJK_NUM}++)"
        rf"(?:\s?(?P<{tag}post>{_CUR_POST}))?"
        rf"(?!\s?{_UNITS})(?![a-z0-9])(?({tag}mult)(?!\s?{_RESOLUTION_WORDS}))"
    )


def _words(*phrases: str) -> str:
    """Alternation of phrases, longest first; Latin ones as whole words, spaces as any whitespace."""
    parts = []
    for phrase in sorted(phrases, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in phrase.split())
        parts.append(rf"(?<![a-z]){body}(?![a-z])" if phrase[0].isascii() and phrase[0].isalpha() else body)
    return "(?:" + "|".join(parts) + ")"


_UPPER_OPS = (
    "under", "below", "less than", "lower than", "cheaper than", "no more than", "not more than", "not over",
    "not above", "no higher than", "not exceeding", "at most", "maximum", "max", "up to", "within",
    "<=", "<", "≤",
    "不超过", "不要超过", "别超过", "不能超过", "不高于", "低于", "少于", "小于", "不到", "最多", "最高", "顶多", "控制在",
)
_LOWER_OPS = (
    "over", "above", "more than", "greater than", "higher than", "at least", "minimum", "min", "no less than",
    "not less than", "not under", "not below", "starting at", "starting from", ">=", ">", "≥",
    "超过", "高于", "大于", "多于", "至少", "不低于", "不少于", "起码", "最少", "最低",
)
_APPROX_OPS = (
    "around", "about", "approximately", "approx.", "approx", "roughly", "close to", "near", "circa", "~",
    "somewhere around", "大概", "大约", "差不多", "约", "大致",
)
_APPROX_WORDS = ("around", "about", "roughly", "approximately", "大概", "大约", "差不多")
_BUDGET_OP = (
    r"(?:(?<![a-z])budget(?:\s+(?:is|of|at|around|about|roughly|approximately))*(?![a-z])\s*[:=]?"
    r"|预算(?:\s*(?:是|在|为|有|大概|大约|差不多|:))*)"
)
_SUFFIX_UPPER = ("以内", "以下", "之内", "之下", "封顶", "or less", "or under", "and under", "and below",
                 "or below", "or lower", "or cheaper", "max", "at most", "tops")
_SUFFIX_LOWER = ("以上", "之上", "起步", "起", "往上", "or more", "and up", "and above", "or above", "or higher", "+")
_SUFFIX_APPROX = ("左右", "上下", "附近", "ish", "or so")
# What may close a prefixed amount too: "控制在3000以内", "预算3000左右".
_PREFIX_TAILS = ("以内", "以下", "之内", "之下", "封顶", "左右", "上下", "附近", "以上")
# "内" alone closes "200元内", but not "内衣", "内存" ...
_SUFFIX_NEI = r"内(?![衣裤存置胆核容部搭外])"
_LEAD = (
    r"(?:(?<![a-z])(?:prices?|priced|costs?|costing)(?:\s+(?:is|at|of|in|range|around|about))?(?![a-z])\s*[:=]?"
    r"|(?:价格|价位|价钱|售价|单价)\s*(?:在|是|为|:)?)"
)


def _lead(tag: str) -> str:
    """An optional price word before an amount ("price:", "价格在"); group ``{tag}lead``."""
    return rf"(?:(?P<{tag}lead>{_LEAD})\s*)?"


_RANGE_KW = r"(?:(?<![a-z])(?:between|from)(?![a-z])|在|介于)"
_RANGE_CONN = r"(?:-|–|—|~|〜|到|至|和|(?<![a-z])(?:to|and)(?![a-z]))"
_KIND_OF_OP = (
    {" ".join(op.split()): "max" for op in _UPPER_OPS + _SUFFIX_UPPER}
    | {" ".join(op.split()): "min" for op in _LOWER_OPS + _SUFFIX_LOWER}
    | {" ".join(op.split()): "approx" for op in _APPROX_OPS + _SUFFIX_APPROX}
    | {"内": "max", "之间": "range", "范围内": "range"}
)

# Where a price phrase can start: cheap to test, and it spares the full grammar at every other position.
_PRICE_FIRST_WORDS = sorted(
    {op.split()[0] for op in _UPPER_OPS + _LOWER_OPS + _APPROX_OPS if op[0].isascii() and op[0].isalpha()}
    | {"price", "prices", "priced", "cost", "costs", "costing", "between", "from", "budget", "us", "usd", "rmb",
       "cny", "eur", "gbp"},
    key=len,
    reverse=True,
)
_PRICE_START = (
    rf"(?=[\d.$¥€£<>≤≥~]|(?<![a-z])(?:{'|'.join(map(re.escape, _PRICE_FIRST_WORDS))})(?![a-z])"
    rf"|[价售单在介人不别低少小最顶控超高大多至起约差预{CJK_NUMERAL_CHARS}])"
)
_PRICE = re.compile(
    rf"{_PRICE_START}(?:"
    rf"(?P<alt_range>{_lead('r')}(?P<rkw>{_RANGE_KW})?\s*{_amount('ra')}\s*(?P<rconn>{_RANGE_CONN})\s*"
    rf"{_amount('rb')}\s*(?P<rtail>之间|范围内|以内)?)"
    rf"|(?P<alt_prefix>{_lead('p')}(?P<pop>{_BUDGET_OP}|{_words(*_UPPER_OPS, *_LOWER_OPS, *_APPROX_OPS)})"
    rf"\s*(?:of\s+|是|在|为)?{_amount('pa')}"
    rf"\s*(?P<ptail>{_words(*_PREFIX_TAILS)}|{_SUFFIX_NEI})?)"
    rf"|(?P<alt_suffix>{_lead('s')}{_amount('sa')}\s*(?P<sop>{_words(*_SUFFIX_UPPER, *_SUFFIX_LOWER, *_SUFFIX_APPROX)}"
    rf"|{_SUFFIX_NEI}))"
    rf"|(?P<alt_lone>{_lead('l')}{_amount('la')}))",
    re.IGNORECASE,
)
# Skip the grammar when nothing can be an amount ("一款", "一点" are not).
_MAY_HOLD_PRICE = re.compile(rf"\d|[{CJK_MAGNITUDES}]|[{CJK_NUMERAL_CHARS}](?:元|块钱|人民币|美元|美金|欧元|英镑)")


def read_prices(text: str, currency: str | None = None) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The price fields stated in ``text`` (``price_min``, ``price_max``, ``currency``) and the spans that stated them.

    ``currency`` is the catalog's one currency (None for a mixed catalog): ``¥`` in a yen shop is JPY.
    """
    out: dict[str, Any] = {}
    spans: list[tuple[int, int]] = []
    if not _MAY_HOLD_PRICE.search(text):
        return out, spans
    lows: list[float] = []
    highs: list[float] = []
    written: str | None = None
    for m in _PRICE.finditer(text):
        found = _price_of(m, currency)
        if found is None:
            continue
        low, high, cur = found
        if low is not None:
            lows.append(low)
        if high is not None:
            highs.append(high)
        written = written or cur
        spans.append(m.span())
    price_min = max(lows) if lows else None
    price_max = min(highs) if highs else None
    if price_min is not None and price_max is not None and price_min > price_max:
        price_min = price_max = None  # the shopper contradicted themselves: trust no bound
    if price_min is not None:
        out["price_min"] = round(price_min, 2)
    if price_max is not None:
        out["price_max"] = round(price_max, 2)
    if written:
        out["currency"] = written
    return out, spans


def _price_of(m: re.Match[str], context: str | None) -> tuple[float | None, float | None, str | None] | None:
    """(low, high, currency) for one price match, or None when it is not a price after all."""
    if m.group("alt_range") is not None:
        a, b = _amount_of(m, "ra", context), _amount_of(m, "rb", context)
        if a is None or b is None:
            return None
        a_value, b_value = a[0], b[0]
        if b[2] and not a[2] and a[3] < b[3]:  # "1-2k": the multiplier covers both ends
            a_value = a[3] * (b_value / b[3])
        conn = m.group("rconn").lower()
        kw = m.group("rkw")
        if conn in ("and", "和") and not kw:
            return None
        if not (a[1] or b[1] or a[2] or b[2] or kw or m.group("rlead") or m.group("rtail")):
            return None  # "ages 3-5": a bare range needs a price word or a currency
        if not a_value < b_value:
            return None
        return a_value, b_value, a[1] or b[1]
    if m.group("alt_prefix") is not None:
        a = _amount_of(m, "pa", context)
        if a is None:
            return None
        op = " ".join(m.group("pop").lower().split())
        tail = m.group("ptail")
        if op.startswith(("budget", "预算")):
            kind = "approx" if any(w in op for w in _APPROX_WORDS) else "max"
            if tail:
                kind = _KIND_OF_OP.get(tail.lower(), kind)
        else:
            kind = _KIND_OF_OP[op]
            if kind == "approx" and tail and _KIND_OF_OP.get(tail.lower()) == "max":
                kind = "max"
        return _bounds(kind, a[0]) + (a[1],)
    if m.group("alt_suffix") is not None:
        a = _amount_of(m, "sa", context)
        if a is None:
            return None
        op = " ".join(m.group("sop").lower().split())
        if op == "+" and not (a[1] or a[2]):
            return None  # "50+ colors"
        return _bounds(_KIND_OF_OP[op], a[0]) + (a[1],)
    a = _amount_of(m, "la", context)
    if a is None or a[1] is None:
        return None  # a lone number is a price only with its currency
    return _bounds("approx", a[0]) + (a[1],)


def _amount_of(m: re.Match[str], tag: str, context: str | None) -> tuple[float, str | None, bool, float] | None:
    """(value, currency, has multiplier, value before the multiplier) of one amount, or None if it is not one.

    ``context`` is the catalog's currency: it decides what an ambiguous marker (``¥``, ``$``) means.
    """
    num = m.group(f"{tag}num")
    pre, post = m.group(f"{tag}pre"), m.group(f"{tag}post")
    mult = m.group(f"{tag}mult")
    if not (num[0].isdigit() or num[0] == "."):
        if not any(ch in CJK_MAGNITUDES for ch in num) and post not in _STRONG_CJK_CURRENCY:
            return None  # "一块", "两个": a lone digit word is a count, not a price
    parsed = parse_number(num)
    if parsed is None or parsed.value <= 0:
        return None
    value, base = parsed.value, parsed.value
    if mult:
        before = parse_number(num[: m.start(f"{tag}mult") - m.start(f"{tag}num")])
        base = before.value if before else value
    return value, currency_of(pre or post or "", context), mult is not None, base or value


def _bounds(kind: str, value: float) -> tuple[float | None, float | None]:
    if kind == "max":
        return None, value
    if kind == "min":
        return value, None
    return value * (1 - APPROX_BAND), value * (1 + APPROX_BAND)

