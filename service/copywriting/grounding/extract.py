"""Claim extraction: every factual claim in a text, each with its kind, value, rounding and span.

The grammar is the package docstring's list. Patterns run in a fixed order on the NFKC-folded text
(specs, money, discounts, counts with a prefix, years, "N-in-1", dimensions, ranges, percentages,
quantities, multipliers, counts); a span taken by an earlier pattern is not read again, and every claim
keeps its span in the original text.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from service.copywriting.grounding.claim import Claim, Comparator, numeric_claim
from service.copywriting.grounding.units import (
    COUNT_ALT,
    CURRENCY_CODE,
    CURRENCY_SIGN,
    CURRENCY_SUFFIX,
    UNIT_ALT,
    count_class,
    unit_of,
)
from service.text.currency import currency_of
from service.text.numbers import CJK_DIGITS, CJK_NUMERAL_CHARS, parse_number

# Numbers are atomic groups: a number is never split to let a unit match, and long digit
# runs cannot make the unit alternation backtrack through every prefix.
_ARABIC = r"(?>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
_CN_NUM = rf"(?<![第{CJK_NUMERAL_CHARS}])(?>[{CJK_NUMERAL_CHARS}]+(?:点[{CJK_DIGITS}]+)?)"
_NUM = rf"(?:(?<![0-9A-Za-z_.]){_ARABIC}(?:[万千亿](?![{CJK_NUMERAL_CHARS}]))?|{_CN_NUM})"
# After a currency sign a number may follow letters: RMB199, US$5.
_NUM_AFTER_SIGN = rf"(?:{_ARABIC}(?:[万千亿](?![{CJK_NUMERAL_CHARS}]))?|(?>[{CJK_NUMERAL_CHARS}]+(?:点[{CJK_DIGITS}]+)?))"
_SP = r"[  ]?"
_UNIT_SEP = r"(?:[  ]?-[  ]?|[  ]{0,2})"

# Characters kept as written: NFKC would turn the Chinese comma into "," and glue clauses into 5,000.
_KEEP = frozenset("，")

_LE_BEFORE = re.compile(
    r"(?i:under|below|less\s+than|no\s+more\s+than|not\s+more\s+than|at\s+most|"
    r"不到|不足|低于|少于|不超过|不高于|小于|最多)\s*$"
)
_GE_BEFORE = re.compile(
    r"(?i:over|above|more\s+than|at\s+least|no\s+less\s+than|"
    r"超过|超|高于|多于|大于|至少|不低于|不少于|最少)\s*$"
)
_LE_AFTER = re.compile(r"^\s*(?:以下|以内|之内)")
_GE_AFTER = re.compile(r"^\s*以上")
_AMOUNT_OFF_BEFORE = re.compile(r"(?i:save|saving|savings\s+of|立减|直降|立省|省|减|优惠|便宜|降价?)\s*$")
_OFF_AFTER = re.compile(r"^\s*(?i:off(?![A-Za-z]))")


def _normalize(text: str) -> tuple[str, list[int]]:
    """NFKC per character, with a map from each normalized position to the original one."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        norm = ch if ch in _KEEP else unicodedata.normalize("NFKC", ch)
        norm = norm.replace("−", "-").replace("–", "-").replace("—", "-")
        out.append(norm)
        index.extend([i] * len(norm))
    index.append(len(text))
    return "".join(out), index


@dataclass
class _Scan:
    """State of one scan: the normalized text, the span map and what is taken."""

    original: str
    norm: str
    index: list[int]
    currency: str | None = None  # the product's: what an ambiguous marker (¥, $) means
    taken: list[tuple[int, int]] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.taken)

    def source(self, start: int, end: int) -> str:
        if end <= start:
            return ""
        return self.original[self.index[start] : self.index[end - 1] + 1]

    def comparator(self, start: int, end: int) -> tuple[Comparator, int, int]:
        """Comparison words around a number, and the span widened to include them."""
        before = self.norm[max(0, start - 16) : start]
        after = self.norm[end : end + 4]
        for pattern, comp in ((_LE_BEFORE, "le"), (_GE_BEFORE, "ge")):
            m = pattern.search(before)
            if m:
                return comp, start - (len(before) - m.start()), end  # type: ignore[return-value]
        for pattern, comp in ((_LE_AFTER, "le"), (_GE_AFTER, "ge")):
            m = pattern.match(after)
            if m:
                return comp, start, end + m.end()  # type: ignore[return-value]
        return "eq", start, end


_Handler = Callable[[_Scan, re.Match[str]], list[Claim] | None]


def _quantity(
    scan: _Scan,
    m: re.Match[str],
    nums: list[str],
    unit_text: str,
    *,
    plus: bool = False,
    negative: bool = False,
) -> list[Claim] | None:
    unit = unit_of(unit_text)
    count_cls = None if unit else count_class(unit_text)
    if unit is None and count_cls is None:
        return None
    parsed = [parse_number(n) for n in nums]
    if any(p is None for p in parsed):
        return None
    # A lone 一 before a time, count or measure word is idiom (一年四季, 一天, 一件), not a figure.
    if any(n == "一" for n in nums) and (count_cls or (unit and unit[0] == "time")):
        return []
    comp, start, end = scan.comparator(m.start(), m.end())
    if plus:
        comp = "ge"
    text = scan.source(start, end)
    claims = []
    for p in parsed:
        assert p is not None
        value, decimals = p
        if count_cls is not None:
            claims.append(numeric_claim(text, "count", f"count:{count_cls}", value, decimals, comparator=comp))
            continue
        assert unit is not None
        dim, factor = unit
        sign = -1.0 if negative and dim in ("celsius", "degree", "fahrenheit") else 1.0
        claims.append(
            numeric_claim(text, "quantity", dim, sign * value, decimals, factor=factor, relative=True, comparator=comp)
        )
    return claims


def _h_spec(scan: _Scan, m: re.Match[str]) -> list[Claim]:
    raw = m.group(0)
    norm = re.sub(r"[\s\-_]", "", raw).upper()
    if m.group("bt"):
        key = "bluetooth:" + m.group("btv")
    elif m.group("wifi"):
        key = "wifi:" + m.group("wfv").upper()
    elif m.group("res"):
        key = "res:" + norm
    else:
        key = "ip:" + norm
    return [Claim(text=scan.source(m.start(), m.end()), kind="spec", dimension="spec", value=key)]


def _h_money(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    cur = m.group("pc") or m.group("sc")
    parsed = parse_number(m.group("num"))
    if parsed is None or cur is None:
        return None
    value, decimals = parsed
    currency = currency_of(cur, scan.currency)
    before = scan.norm[max(0, m.start() - 12) : m.start()]
    after = scan.norm[m.end() : m.end() + 5]
    off_before = _AMOUNT_OFF_BEFORE.search(before)
    off_after = _OFF_AFTER.match(after)
    if off_before or off_after:
        start = m.start() - (len(before) - off_before.start()) if off_before else m.start()
        end = m.end() + off_after.end() if off_after else m.end()
        return [numeric_claim(scan.source(start, end), "amount_off", "money", value, decimals, currency=currency)]
    comp, start, end = scan.comparator(m.start(), m.end())
    text = scan.source(start, end)
    return [numeric_claim(text, "money", "money", value, decimals, comparator=comp, currency=currency)]


def _discount_claim(scan: _Scan, start: int, end: int, off: float) -> list[Claim]:
    # Discounts compare within one percentage point: 199 of 399 is "50% off".
    return [Claim(text=scan.source(start, end), kind="discount", dimension="discount", value=off, literal=off, tolerance=1.0)]


def _h_percent_off(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    if not (m.group("pre") or m.group("post")):
        return None
    parsed = parse_number(m.group("num"))
    if parsed is None or not 0 < parsed[0] < 100:
        return None
    return _discount_claim(scan, m.start(), m.end(), parsed[0])


def _zhe_value(token: str) -> float | None:
    if token[0].isascii():
        try:
            return float(token)
        except ValueError:
            return None
    digits = "零一二三四五六七八九"
    if "点" in token:
        whole, frac = token.split("点", 1)
        if len(whole) != 1 or len(frac) != 1 or whole not in digits or frac not in digits:
            return None
        return digits.index(whole) + digits.index(frac) / 10
    if all(c in digits for c in token) and 1 <= len(token) <= 2:
        return float("".join(str(digits.index(c)) for c in token))
    return None


def _h_zhe(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    v = _zhe_value(m.group("z"))
    if v is None:
        return None
    # 8折 / 8.5折 pay 80% / 85%; 85折 pays 85%.
    pay = v / 10 if v < 10 else v / 100
    if not 0 < pay < 1:
        return None
    return _discount_claim(scan, m.start(), m.end(), round(100 * (1 - pay), 6))


def _h_half(scan: _Scan, m: re.Match[str]) -> list[Claim]:
    return _discount_claim(scan, m.start(), m.end(), 50.0)


def _h_prefixed(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    pre = re.sub(r"\s+", " ", m.group("pre").lower())
    parsed = parse_number(m.group("num"))
    if parsed is None:
        return None
    value, decimals = parsed
    comp: Comparator = "ge" if m.group("plus") else "eq"
    text = scan.source(m.start(), m.end())
    if pre in ("蓬松度", "fill power"):
        return [numeric_claim(text, "quantity", "fill_power", value, decimals, relative=True, comparator=comp)]
    cls = "pack" if pre in ("pack of", "set of") else "social"
    return [numeric_claim(text, "count", f"count:{cls}", value, decimals, comparator=comp)]


def _h_year(scan: _Scan, m: re.Match[str]) -> list[Claim]:
    year = float(m.group("year"))
    return [numeric_claim(scan.source(m.start(), m.end()), "year", "year", year, 0)]


def _h_in_one(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    parsed = parse_number(m.group("num"))
    if parsed is None or parsed[0] < 2:
        return None
    return [numeric_claim(scan.source(m.start(), m.end()), "count", "count:in_one", parsed[0], parsed[1])]


def _h_dims(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    nums = [n for n in (m.group("a"), m.group("b"), m.group("c")) if n]
    return _quantity(scan, m, nums, m.group("unit"))


def _h_range(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    return _quantity(scan, m, [m.group("a"), m.group("b")], m.group("unit"))


def _h_quantity(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    neg = bool(m.group("neg"))
    return _quantity(scan, m, [m.group("num")], m.group("unit"), plus=bool(m.group("plus")), negative=neg)


def _h_percent_cn(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    token = m.group("num")
    parsed = (100.0, 0) if token == "百" else parse_number(token)
    if parsed is None:
        return None
    value, decimals = parsed
    return [
        numeric_claim(scan.source(m.start(), m.end()), "quantity", "percent", value, decimals, relative=True)
    ]


def _h_multiplier(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    token = m.group("num")
    if token == "一":
        return []
    parsed = parse_number(token)
    if parsed is None:
        return None
    value, decimals = parsed
    return [numeric_claim(scan.source(m.start(), m.end()), "multiplier", "times", value, decimals)]


def _h_count(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    return _quantity(scan, m, [m.group("num")], m.group("unit"), plus=bool(m.group("plus")))


_PATTERNS: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (
        re.compile(
            r"(?<![A-Za-z0-9.])(?:(?P<ip>IP(?:[0-6X][0-9X]))"
            r"|(?P<bt>(?i:bluetooth|蓝牙|BT))[  ]?(?i:v)?(?P<btv>[1-9](?:\.[0-9])?)"
            r"|(?P<wifi>(?i:wi-?fi))[  ]?(?P<wfv>[4-7][Ee]?)"
            r"|(?P<res>[1-8](?:\.[0-9])?K|(?:720|1080|1440|2160|4320)[pP]))(?![A-Za-z0-9.])"
        ),
        _h_spec,
    ),
    (re.compile(rf"(?P<pc>)(?P<num>{_NUM}){_SP}(?P<sc>{CURRENCY_SUFFIX})"), _h_money),
    (re.compile(rf"(?P<pc>{CURRENCY_SIGN}){_SP}(?P<num>{_NUM_AFTER_SIGN})(?P<sc>)"), _h_money),
    (re.compile(rf"(?P<pc>{CURRENCY_CODE}){_SP}(?P<num>{_ARABIC})(?P<sc>)"), _h_money),
    (
        re.compile(
            rf"(?P<pre>(?i:save|savings\s+of|discount\s+of|立省|省|优惠|立减|直降|降价)\s*(?i:up\s+to\s+)?)?"
            rf"(?P<num>{_NUM}){_SP}(?:%|(?i:percent|per\s+cent)(?![A-Za-z]))"
            rf"(?P<post>{_SP}(?i:off(?![A-Za-z])|discount|savings|折扣|优惠))?"
        ),
        _h_percent_off,
    ),
    (
        re.compile(rf"(?<!不)(?:打{_SP})?(?<![0-9A-Za-z.])(?P<z>(?>[0-9]+(?:\.[0-9])?)|[一二三四五六七八九]{{1,2}}(?:点[一二三四五六七八九])?){_SP}折(?![叠合算扣])"),
        _h_zhe,
    ),
    (re.compile(r"半价|(?i:half[\s-]+(?:price|off)(?![A-Za-z]))"), _h_half),
    (
        re.compile(
            rf"(?P<pre>蓬松度|(?i:fill[\s-]+power)|已售|销量|月销|(?i:pack\s+of|set\s+of))"
            rf"[  :：]*(?:达到?|高达|(?i:of\s+))?[  ]*(?P<num>{_NUM})(?P<plus>\+)?"
        ),
        _h_prefixed,
    ),
    (
        re.compile(
            r"(?<![0-9A-Za-z.])(?P<year>19[5-9][0-9]|20[0-9]{2})"
            r"(?:年款|新款|年|款|版|[  ](?i:model|edition|version|collection)(?![A-Za-z]))"
        ),
        _h_year,
    ),
    (re.compile(rf"(?P<num>{_NUM})(?:[  -]{1,3}(?i:in)[  -]{1,3}1|合[1一])(?![0-9])"), _h_in_one),
    (
        re.compile(
            rf"(?P<a>{_NUM}){_SP}[xX×*]{_SP}(?P<b>{_NUM})(?:{_SP}[xX×*]{_SP}(?P<c>{_NUM}))?"
            rf"{_UNIT_SEP}(?P<unit>{UNIT_ALT})"
        ),
        _h_dims,
    ),
    (
        re.compile(
            rf"(?P<a>{_NUM}){_SP}(?:-|~|到|至|(?i:to)(?![A-Za-z])){_SP}(?P<b>{_NUM})"
            rf"{_UNIT_SEP}(?P<unit>{UNIT_ALT})"
        ),
        _h_range,
    ),
    (re.compile(rf"百分之(?P<num>{_CN_NUM}|{_ARABIC}|百)"), _h_percent_cn),
    (
        re.compile(
            rf"(?P<neg>零下|(?<![0-9A-Za-z])-)?(?P<num>{_NUM})(?P<plus>\+)?{_UNIT_SEP}(?P<unit>{UNIT_ALT})"
        ),
        _h_quantity,
    ),
    (re.compile(rf"(?P<num>{_NUM}){_SP}(?:[xX×](?![0-9A-Za-z])|倍)"), _h_multiplier),
    (re.compile(rf"(?P<num>{_NUM})(?P<plus>\+)?{_UNIT_SEP}(?P<unit>{COUNT_ALT})"), _h_count),
)


def extract_claims(text: str, *, currency: str | None = None) -> list[Claim]:
    """Every claim in ``text`` (see the package docstring), in order of appearance.

    ``currency`` is the product's price currency: it decides what an ambiguous marker means
    (``¥299`` is JPY for a yen-priced product, else CNY; see :mod:`service.text.currency`).
    """
    norm, index = _normalize(text)
    scan = _Scan(text, norm, index, currency)
    for pattern, handler in _PATTERNS:
        for m in pattern.finditer(norm):
            if m.end() == m.start() or not scan.free(m.start(), m.end()):
                continue
            found = handler(scan, m)
            if found is None:
                continue
            scan.taken.append((m.start(), m.end()))
            start, end = index[m.start()], index[m.end() - 1] + 1
            scan.claims.extend(dataclasses.replace(claim, start=start, end=end) for claim in found)
    return sorted(scan.claims, key=lambda c: (c.start, c.end))


def numbers_in(text: str) -> set[float]:
    """Every Arabic number written in ``text`` (claims or not): a year claim is backed by any of them."""
    norm, _ = _normalize(text)
    out = set()
    for token in re.findall(_ARABIC, norm):
        parsed = parse_number(token)
        if parsed:
            out.add(parsed[0])
    return out
