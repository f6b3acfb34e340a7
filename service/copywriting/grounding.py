"""Find the factual claims in marketing copy and check each one against the product data.

What counts as a claim (English and Chinese; full-width forms are NFKC-folded first):

- **quantity**: a number with a unit, e.g. ``5000mAh``, ``5,000 mAh``, ``两万毫安``,
  ``2万毫安时``, ``20Ah``, ``1.5kg``, ``15.6"``, ``15.6英寸``, ``144Hz``, ``65W``,
  ``512GB``, ``30小时``, ``3年``, ``-30°C``, ``零下30度``, ``800 fill power``,
  ``蓬松度800``, ``90%``, ``百分之九十``, ``48MP``, ``4800万像素``, ``4.8 stars``;
  ranges (``5-10 hours``, ``5到10小时``) and dimensions (``30×20×10cm``) give one
  quantity per number. Units are normalized (mAh, g, mm, ml, s, ...) so
  ``20000mAh == 2万毫安时 == 20Ah``, ``1.5kg == 1500g``, ``15.6" == 39.6cm``,
  ``1 year == 12 months``.
- **money**: ``$199``, ``US$199``, ``¥299``, ``299元``, ``两千九百九十九元``, ``2999 CNY``;
  an amount off (``save $50``, ``立减50元``, ``$50 off``).
- **discount**: ``50% off``, ``save 30%``, ``五折``, ``打8折``, ``8.5折``, ``85折``, ``半价``,
  ``half price``.
- **multiplier**: ``2x faster``, ``3倍``, ``两倍``.
- **count**: a number with a counted noun: ``2 colors``, ``3色``, ``5 pcs``, ``3-pack``,
  ``pack of 3``, ``2双``, ``5-in-1``, ``五合一``, ``10,000+ reviews``, ``已售10万+``.
- **year**: a calendar year used as a product fact: ``2025款``, ``2025年``, ``2025 model``.
- **spec**: ``IP68``, ``IPX7``, ``Bluetooth 5.3``/``蓝牙5.3``, ``Wi-Fi 6``, ``4K``, ``1080p``.

Not claims: bare numbers with no unit (``24/7``, ``iPhone 15``, ``3 easy steps``,
``618``), numbers glued to letters (model names such as ``X200W``), ordinals
(``第一``, ``1st``; absolute words are the compliance check's job), English
number words (``two colors``), a lone ``一`` before a time, count or multiplier
word (``一年四季``, ``一天``, ``一键``, ``提升一倍``: idiom far more often than fact),
Chinese digit runs without a place word (``三五天`` means "three to five"), and the
ambiguous ``256G`` / ``5G``. Words in front of a number set how it compares:
``under $200`` / ``不到200元`` / ``200元以下`` hold when the data's value is at or
below it, ``over 20 hours`` / ``超过20小时`` / ``10,000+`` when at or above;
``up to``, ``only``, ``低至`` compare for equality.

A claim is backed when the product data (title, description, brand, category,
tags, attribute keys and values, price and currency) holds the same quantity:

- same dimension after unit normalization, equal within the claim's own
  rounding (half a unit of its last written digit) or 0.5% (unit conversions);
  ``°``/``度`` match ``°C``; prices only within rounding, never the 0.5%;
- money also matches the currency when both sides have one (``$`` is any dollar,
  ``¥`` is CNY or JPY); price-like attributes (``original_price``, ``原价``, ...) are
  prices too;
- a discount matches a discount written in the data, or the one the price and an
  original/list/compare-at price imply (within one percentage point); an amount
  off matches a money figure in the data or the price difference;
- a count matches a count of the same noun, or the number of items an attribute
  named for that noun lists (``colors: [black, white]`` backs ``2 colors``);
- a year matches any number in the data (a ``2025`` in the title backs ``2025款``);
- a numeric attribute value whose key names no unit (``capacity: 5000``) backs a
  quantity or count claim with the same number: the data holds the figure, we
  cannot tell its unit.

:func:`unsupported_claims` returns the claims that are not backed, as written in
the copy. Build :func:`product_facts` once per product when checking many variants.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import cn2an

from service.catalog.product import Product
from service.copywriting.schema import CopyVariant

ClaimKind = Literal["quantity", "money", "amount_off", "discount", "multiplier", "count", "year", "spec"]
Comparator = Literal["eq", "le", "ge"]

# -- units --------------------------------------------------------------------------
# (alias, dimension, factor to the dimension's base unit, case-insensitive?)
# Case matters where a letter means two things: g (gram) / G (5G), m (metre) / M, l / L.
_UNITS: tuple[tuple[str, str, float, bool], ...] = (
    # electric charge, base mAh. 毫安 is current strictly, but Chinese copy uses it for mAh.
    ("mAh", "charge", 1, True), ("Ah", "charge", 1000, True),
    ("毫安时", "charge", 1, False), ("毫安小时", "charge", 1, False), ("毫安", "charge", 1, False),
    ("安时", "charge", 1000, False),
    # energy, base Wh
    ("Wh", "energy", 1, True), ("kWh", "energy", 1000, True),
    # power, base W
    ("W", "power", 1, False), ("kW", "power", 1000, True), ("watts", "power", 1, True),
    ("watt", "power", 1, True), ("瓦特", "power", 1, False), ("瓦", "power", 1, False),
    # storage, base byte (decimal, as storage is sold)
    ("KB", "storage", 1e3, True), ("MB", "storage", 1e6, True), ("GB", "storage", 1e9, True),
    ("TB", "storage", 1e12, True),
    # length, base mm
    ("mm", "length", 1, True), ("cm", "length", 10, True), ("m", "length", 1000, False),
    ("km", "length", 1e6, True), ("毫米", "length", 1, False), ("厘米", "length", 10, False),
    ("公分", "length", 10, False), ("米", "length", 1000, False), ("公里", "length", 1e6, False),
    ("inches", "length", 25.4, True), ("inch", "length", 25.4, True), ('"', "length", 25.4, False),
    ("''", "length", 25.4, False), ("′′", "length", 25.4, False), ("英寸", "length", 25.4, False),
    # 寸 on a screen or TV is the inch, not the traditional 市寸
    ("寸", "length", 25.4, False), ("feet", "length", 304.8, True), ("foot", "length", 304.8, True),
    ("ft", "length", 304.8, True), ("英尺", "length", 304.8, False),
    # volume, base ml
    ("ml", "volume", 1, True), ("L", "volume", 1000, False), ("l", "volume", 1000, False),
    ("liters", "volume", 1000, True), ("liter", "volume", 1000, True), ("litres", "volume", 1000, True),
    ("litre", "volume", 1000, True), ("fl oz", "volume", 29.5735295625, True), ("毫升", "volume", 1, False),
    ("升", "volume", 1000, False),
    # mass, base g
    ("mg", "mass", 0.001, True), ("g", "mass", 1, False), ("kg", "mass", 1000, True),
    ("grams", "mass", 1, True), ("gram", "mass", 1, True), ("kilograms", "mass", 1000, True),
    ("kilogram", "mass", 1000, True), ("克", "mass", 1, False), ("公斤", "mass", 1000, False),
    ("斤", "mass", 500, False), ("lbs", "mass", 453.59237, True), ("lb", "mass", 453.59237, True),
    ("pounds", "mass", 453.59237, True), ("pound", "mass", 453.59237, True),
    ("ounces", "mass", 28.349523125, True), ("ounce", "mass", 28.349523125, True),
    ("oz", "mass", 28.349523125, True),
    # frequency, base Hz
    ("Hz", "frequency", 1, True), ("kHz", "frequency", 1e3, True), ("MHz", "frequency", 1e6, True),
    ("GHz", "frequency", 1e9, True), ("赫兹", "frequency", 1, False),
    # time, base s; a month is a twelfth of a year so 12 months == 1 year
    ("seconds", "time", 1, True), ("second", "time", 1, True), ("secs", "time", 1, True),
    ("sec", "time", 1, True), ("秒", "time", 1, False), ("minutes", "time", 60, True),
    ("minute", "time", 60, True), ("mins", "time", 60, True), ("min", "time", 60, True),
    ("分钟", "time", 60, False), ("hours", "time", 3600, True), ("hour", "time", 3600, True),
    ("hrs", "time", 3600, True), ("hr", "time", 3600, True), ("h", "time", 3600, False),
    ("个小时", "time", 3600, False), ("小时", "time", 3600, False), ("钟头", "time", 3600, False),
    ("days", "time", 86400, True), ("day", "time", 86400, True), ("天", "time", 86400, False),
    ("weeks", "time", 604800, True), ("week", "time", 604800, True), ("个星期", "time", 604800, False),
    ("星期", "time", 604800, False), ("周", "time", 604800, False),
    ("months", "time", 31536000 / 12, True), ("month", "time", 31536000 / 12, True),
    ("个月", "time", 31536000 / 12, False), ("years", "time", 31536000, True),
    ("year", "time", 31536000, True), ("yrs", "time", 31536000, True), ("yr", "time", 31536000, True),
    ("年", "time", 31536000, False),
    # temperature and angle
    ("°C", "celsius", 1, False), ("摄氏度", "celsius", 1, False), ("°F", "fahrenheit", 1, False),
    ("°", "degree", 1, False), ("度", "degree", 1, False),
    # ratios
    ("%", "percent", 1, False), ("percent", "percent", 1, True), ("per cent", "percent", 1, True),
    # down fill power
    ("fill power", "fill_power", 1, True), ("fill", "fill_power", 1, True), ("FP", "fill_power", 1, False),
    ("蓬松度", "fill_power", 1, False),
    # assorted specs
    ("dB", "noise", 1, True), ("分贝", "noise", 1, False), ("nits", "brightness", 1, True),
    ("nit", "brightness", 1, True), ("尼特", "brightness", 1, False), ("Mbps", "bandwidth", 1e6, True),
    ("Gbps", "bandwidth", 1e9, True), ("V", "voltage", 1, False), ("volts", "voltage", 1, True),
    ("伏", "voltage", 1, False), ("Pa", "pressure", 1, False), ("kPa", "pressure", 1000, True),
    ("帕", "pressure", 1, False), ("bar", "pressure", 1e5, False), ("rpm", "rotation", 1, True), ("fps", "frame_rate", 1, True),
    ("帧", "frame_rate", 1, False), ("MP", "pixels", 1e6, False), ("megapixels", "pixels", 1e6, True),
    ("megapixel", "pixels", 1e6, True), ("像素", "pixels", 1, False), ("cores", "cores", 1, True),
    ("core", "cores", 1, True), ("核", "cores", 1, False), ("stars", "rating", 1, True),
    ("star", "rating", 1, True), ("颗星", "rating", 1, False),
)

# Dimensions a claim of the key dimension may be backed by (besides its own).
_COMPATIBLE: dict[str, frozenset[str]] = {
    "degree": frozenset({"celsius"}),
    "celsius": frozenset({"degree"}),
}

# Counted nouns -> class. Generic measure words like 个 are left out: "3个理由" is no product fact.
_COUNT_NOUNS: tuple[tuple[str, str, bool], ...] = (
    ("colors", "color", True), ("colours", "color", True), ("color", "color", True),
    ("colour", "color", True), ("colorways", "color", True), ("shades", "color", True),
    ("种颜色", "color", False), ("个颜色", "color", False), ("款颜色", "color", False), ("色", "color", False),
    ("sizes", "size", True), ("种尺码", "size", False), ("个尺码", "size", False),
    ("styles", "style", True), ("种款式", "style", False), ("款", "style", False),
    ("pieces", "piece", True), ("pcs", "piece", True), ("pc", "piece", True), ("count", "piece", True),
    ("件", "piece", False), ("只", "piece", False), ("片", "piece", False), ("支", "piece", False),
    ("颗", "piece", False), ("条", "piece", False),
    ("packs", "pack", True), ("pack", "pack", True), ("sets", "pack", True), ("件套", "pack", False),
    ("套", "pack", False), ("装", "pack", False),
    ("pairs", "pair", True), ("pair", "pair", True), ("双", "pair", False), ("对", "pair", False),
    ("modes", "mode", True), ("speeds", "mode", True), ("levels", "mode", True), ("settings", "mode", True),
    ("档", "mode", False), ("ports", "port", True), ("个接口", "port", False), ("个口", "port", False),
    ("reviews", "social", True), ("ratings", "social", True), ("customers", "social", True),
    ("buyers", "social", True), ("users", "social", True), ("sold", "social", True),
    ("orders", "social", True), ("downloads", "social", True), ("人购买", "social", False),
    ("人已购", "social", False), ("人已买", "social", False), ("人付款", "social", False),
    ("条评价", "social", False), ("条好评", "social", False), ("好评", "social", False),
    ("人评价", "social", False), ("位用户", "social", False), ("人选择", "social", False),
)

# Attribute-key words that name a counted class: colors: [a, b] is a count of 2 colors.
_COUNT_KEY_WORDS: dict[str, tuple[str, ...]] = {
    "color": ("color", "colour", "颜色", "色"),
    "size": ("size", "尺码", "尺寸"),
    "style": ("style", "款式"),
    "piece": ("piece", "pcs", "quantity", "count", "件数", "数量"),
    "pack": ("pack", "set", "套装", "件套"),
    "pair": ("pair", "双"),
    "mode": ("mode", "speed", "level", "setting", "档"),
    "port": ("port", "接口"),
}

_CURRENCY_WORDS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN"}),
    "us$": frozenset({"USD"}), "hk$": frozenset({"HKD"}), "nt$": frozenset({"TWD"}),
    "c$": frozenset({"CAD"}), "ca$": frozenset({"CAD"}), "a$": frozenset({"AUD"}), "au$": frozenset({"AUD"}),
    "s$": frozenset({"SGD"}), "nz$": frozenset({"NZD"}),
    "¥": frozenset({"CNY", "JPY"}), "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}),
    "元": frozenset({"CNY"}), "块": frozenset({"CNY"}), "块钱": frozenset({"CNY"}), "人民币": frozenset({"CNY"}),
    "rmb": frozenset({"CNY"}), "yuan": frozenset({"CNY"}), "美元": frozenset({"USD"}), "美金": frozenset({"USD"}),
    "欧元": frozenset({"EUR"}), "英镑": frozenset({"GBP"}), "日元": frozenset({"JPY"}),
    "港元": frozenset({"HKD"}), "港币": frozenset({"HKD"}),
    "dollars": frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD"}),
    "dollar": frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD"}),
    "bucks": frozenset({"USD", "CAD", "AUD", "NZD"}),
    "euros": frozenset({"EUR"}), "euro": frozenset({"EUR"}),
}
_ISO_CURRENCIES = ("CNY", "USD", "EUR", "GBP", "JPY", "HKD", "CAD", "AUD", "SGD", "NZD", "TWD", "KRW", "INR")

# Attribute keys that hold a price before discount.
_ORIGINAL_PRICE_KEY = re.compile(
    r"original|list|compare|msrp|rrp|was|regular|retail|strike|原价|划线|市场价|吊牌|专柜|零售价", re.IGNORECASE
)
_PRICE_KEY = re.compile(r"price|cost|价", re.IGNORECASE)
_MSRP_KEY = re.compile(r"msrp|rrp", re.IGNORECASE)
_DISCOUNT_KEY = re.compile(r"discount|sale|off|promo|折扣|优惠|促销", re.IGNORECASE)

# -- number patterns ---------------------------------------------------------------------
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_ALL = _CN_DIGITS + "十百千万亿"
# Numbers are atomic groups: a number is never split to let a unit match, and long digit
# runs cannot make the unit alternation backtrack through every prefix.
_ARABIC = r"(?>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
_CN_NUM = rf"(?<![第{_CN_ALL}])(?>[{_CN_ALL}]+(?:点[{_CN_DIGITS}]+)?)"
_NUM = rf"(?:(?<![0-9A-Za-z_.]){_ARABIC}(?:[万千亿](?![{_CN_ALL}]))?|{_CN_NUM})"
# After a currency sign a number may follow letters: RMB199, US$5.
_NUM_AFTER_SIGN = rf"(?:{_ARABIC}(?:[万千亿](?![{_CN_ALL}]))?|(?>[{_CN_ALL}]+(?:点[{_CN_DIGITS}]+)?))"
_SP = r"[  ]?"
_UNIT_SEP = r"(?:[  ]?-[  ]?|[  ]{0,2})"

# Characters kept as written: NFKC would turn the Chinese comma into "," and glue clauses into 5,000.
_KEEP = frozenset("，")


# Follow-on characters that turn a unit into another word: 10周年 (anniversary), 90年代, 升级, 秒杀.
_UNIT_GUARDS: dict[str, str] = {"周": "(?!年)", "年": "(?![代级])", "升": "(?!级)", "天": "(?!猫)", "秒": "(?!杀)"}


def _alt(aliases: Iterable[tuple[str, bool]]) -> str:
    parts = []
    for alias, ci in sorted(aliases, key=lambda a: -len(a[0])):
        pat = re.escape(alias).replace(r"\ ", r"[  -]?")
        if alias[-1].isascii() and alias[-1].isalpha():
            pat += r"(?![A-Za-z])"
        pat += _UNIT_GUARDS.get(alias, "")
        parts.append(f"(?i:{pat})" if ci else pat)
    return "|".join(parts)


_UNIT_ALT = _alt((u[0], u[3]) for u in _UNITS)
_COUNT_ALT = _alt((c[0], c[2]) for c in _COUNT_NOUNS)
# Case-sensitive aliases are looked up as written, the others lower-cased: "M" is no metre.
_UNIT_EXACT: dict[str, tuple[str, float]] = {a: (d, f) for a, d, f, ci in _UNITS if not ci}
_UNIT_FOLDED: dict[str, tuple[str, float]] = {a.lower(): (d, f) for a, d, f, ci in _UNITS if ci}
_COUNT_EXACT: dict[str, str] = {a: c for a, c, ci in _COUNT_NOUNS if not ci}
_COUNT_FOLDED: dict[str, str] = {a.lower(): c for a, c, ci in _COUNT_NOUNS if ci}

_CURRENCY_SIGN = r"(?:(?i:US|HK|NT|CA|AU|NZ)\$|[CAS]\$|\$|¥|€|£|₹|₩)"
_CURRENCY_CODE = r"(?<![A-Za-z])(?i:RMB|CNY|USD|EUR|GBP|JPY|HKD|CAD|AUD|SGD|NZD|TWD|KRW|INR)"
_CURRENCY_SUFFIX = (
    r"(?:块钱|元|块|人民币|美元|美金|欧元|英镑|日元|港元|港币|"
    r"(?i:dollars?|bucks|euros?|yuan|RMB|CNY|USD|EUR|GBP|JPY|HKD|CAD|AUD|SGD|NZD|TWD|KRW|INR)(?![A-Za-z]))"
)

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


# -- claims and facts --------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """One factual claim found in a text. ``value`` is in the dimension's base unit."""

    text: str
    kind: ClaimKind
    dimension: str
    value: float | str
    literal: float = math.nan
    tolerance: float = 0.0
    literal_tolerance: float = 0.0
    comparator: Comparator = "eq"
    currencies: frozenset[str] | None = None
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class _Money:
    value: float
    currencies: frozenset[str] | None


@dataclass
class ProductFacts:
    """Everything in one product's data that can back a claim. Build with :func:`product_facts`."""

    product: Product
    quantities: dict[str, list[float]] = field(default_factory=dict)
    money: list[_Money] = field(default_factory=list)
    discounts: list[float] = field(default_factory=list)
    amounts_off: list[float] = field(default_factory=list)
    multipliers: list[float] = field(default_factory=list)
    counts: dict[str, set[int]] = field(default_factory=dict)
    specs: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    bare_numbers: set[float] = field(default_factory=set)


# -- text scanning -----------------------------------------------------------------------
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


def parse_number(token: str) -> tuple[float, int] | None:
    """``"5,000"``, ``"1.5万"``, ``"两万"``, ``"一百二十"`` -> (value, decimals written); None if not a number.

    Chinese numerals go through cn2an. A run of bare Chinese digits with no place
    word (``三五``) is an approximation ("three or five"), not a number.
    """
    token = token.strip()
    if not token:
        return None
    if token[0].isascii() and token[0].isdigit():
        mult = 1.0
        if token[-1] in "万千亿":
            mult = {"万": 1e4, "千": 1e3, "亿": 1e8}[token[-1]]
            token = token[:-1]
        digits = token.replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            return None
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        return value * mult, decimals
    if not any(c in token for c in "十百千万亿点") and len(token) > 1:
        return None
    try:
        value = float(cn2an.cn2an(token, "smart"))
    except (ValueError, KeyError, IndexError):
        return None
    decimals = len(token.split("点", 1)[1]) if "点" in token else 0
    return value, decimals


def _claim(
    text: str,
    kind: ClaimKind,
    dimension: str,
    literal: float,
    decimals: int,
    *,
    factor: float = 1.0,
    relative: bool = False,
    comparator: Comparator = "eq",
    currencies: frozenset[str] | None = None,
) -> Claim:
    """A numeric claim: ``literal`` as written in its unit, ``factor`` to the base unit.

    Tolerance is half a unit of the last written digit (rounding). For
    ``relative`` claims (measured quantities) rounding may move the figure by at
    most 2%, so "2kg" is not 1.5 kg, and conversions between unit systems get
    0.5% (15.6 in = 39.6 cm).
    """
    value = literal * factor
    literal_tol = 0.5 * 10.0 ** (-decimals)
    if relative:
        literal_tol = min(literal_tol, 0.02 * abs(literal))
    tol = literal_tol * factor
    if relative:
        tol = max(tol, 0.005 * abs(value))
    return Claim(
        text=text,
        kind=kind,
        dimension=dimension,
        value=value,
        literal=literal,
        tolerance=tol,
        literal_tolerance=literal_tol,
        comparator=comparator,
        currencies=currencies,
    )


def _unit(text: str) -> tuple[str, float] | None:
    text = re.sub(r"[  -]+", " ", text.strip())
    return _UNIT_EXACT.get(text) or _UNIT_FOLDED.get(text.lower())


def _count_class(text: str) -> str | None:
    text = re.sub(r"[  -]+", " ", text.strip())
    return _COUNT_EXACT.get(text) or _COUNT_FOLDED.get(text.lower())


def _currencies(token: str) -> frozenset[str] | None:
    token = token.strip()
    low = token.lower()
    if low in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[low]
    if token in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[token]
    if token.upper() in _ISO_CURRENCIES:
        return frozenset({token.upper()})
    return None


@dataclass
class _Scan:
    """State of one scan: the normalized text, the span map and what is taken."""

    original: str
    norm: str
    index: list[int]
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
    unit = _unit(unit_text)
    count_cls = None if unit else _count_class(unit_text)
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
            claims.append(_claim(text, "count", f"count:{count_cls}", value, decimals, comparator=comp))
            continue
        assert unit is not None
        dim, factor = unit
        sign = -1.0 if negative and dim in ("celsius", "degree", "fahrenheit") else 1.0
        claims.append(
            _claim(text, "quantity", dim, sign * value, decimals, factor=factor, relative=True, comparator=comp)
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
    currencies = _currencies(cur)
    before = scan.norm[max(0, m.start() - 12) : m.start()]
    after = scan.norm[m.end() : m.end() + 5]
    off_before = _AMOUNT_OFF_BEFORE.search(before)
    off_after = _OFF_AFTER.match(after)
    if off_before or off_after:
        start = m.start() - (len(before) - off_before.start()) if off_before else m.start()
        end = m.end() + off_after.end() if off_after else m.end()
        return [_claim(scan.source(start, end), "amount_off", "money", value, decimals, currencies=currencies)]
    comp, start, end = scan.comparator(m.start(), m.end())
    return [_claim(scan.source(start, end), "money", "money", value, decimals, comparator=comp, currencies=currencies)]


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
        return [_claim(text, "quantity", "fill_power", value, decimals, relative=True, comparator=comp)]
    cls = "pack" if pre in ("pack of", "set of") else "social"
    return [_claim(text, "count", f"count:{cls}", value, decimals, comparator=comp)]


def _h_year(scan: _Scan, m: re.Match[str]) -> list[Claim]:
    year = float(m.group("year"))
    return [_claim(scan.source(m.start(), m.end()), "year", "year", year, 0)]


def _h_in_one(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    parsed = parse_number(m.group("num"))
    if parsed is None or parsed[0] < 2:
        return None
    return [_claim(scan.source(m.start(), m.end()), "count", "count:in_one", parsed[0], parsed[1])]


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
        _claim(scan.source(m.start(), m.end()), "quantity", "percent", value, decimals, relative=True)
    ]


def _h_multiplier(scan: _Scan, m: re.Match[str]) -> list[Claim] | None:
    token = m.group("num")
    if token == "一":
        return []
    parsed = parse_number(token)
    if parsed is None:
        return None
    value, decimals = parsed
    return [_claim(scan.source(m.start(), m.end()), "multiplier", "times", value, decimals)]


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
    (re.compile(rf"(?P<pc>)(?P<num>{_NUM}){_SP}(?P<sc>{_CURRENCY_SUFFIX})"), _h_money),
    (re.compile(rf"(?P<pc>{_CURRENCY_SIGN}){_SP}(?P<num>{_NUM_AFTER_SIGN})(?P<sc>)"), _h_money),
    (re.compile(rf"(?P<pc>{_CURRENCY_CODE}){_SP}(?P<num>{_ARABIC})(?P<sc>)"), _h_money),
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
            rf"{_UNIT_SEP}(?P<unit>{_UNIT_ALT})"
        ),
        _h_dims,
    ),
    (
        re.compile(
            rf"(?P<a>{_NUM}){_SP}(?:-|~|到|至|(?i:to)(?![A-Za-z])){_SP}(?P<b>{_NUM})"
            rf"{_UNIT_SEP}(?P<unit>{_UNIT_ALT})"
        ),
        _h_range,
    ),
    (re.compile(rf"百分之(?P<num>{_CN_NUM}|{_ARABIC}|百)"), _h_percent_cn),
    (
        re.compile(
            rf"(?P<neg>零下|(?<![0-9A-Za-z])-)?(?P<num>{_NUM})(?P<plus>\+)?{_UNIT_SEP}(?P<unit>{_UNIT_ALT})"
        ),
        _h_quantity,
    ),
    (re.compile(rf"(?P<num>{_NUM}){_SP}(?:[xX×](?![0-9A-Za-z])|倍)"), _h_multiplier),
    (re.compile(rf"(?P<num>{_NUM})(?P<plus>\+)?{_UNIT_SEP}(?P<unit>{_COUNT_ALT})"), _h_count),
)


def extract_claims(text: str) -> list[Claim]:
    """Every claim in ``text`` (see the module docstring), in order of appearance."""
    norm, index = _normalize(text)
    scan = _Scan(text, norm, index)
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


# -- product facts -----------------------------------------------------------------------
def _numbers_in(text: str) -> set[float]:
    norm, _ = _normalize(text)
    out = set()
    for token in re.findall(_ARABIC, norm):
        parsed = parse_number(token)
        if parsed:
            out.add(parsed[0])
    return out


def _key_unit(key: str) -> tuple[str, float] | None:
    """The unit an attribute key names, e.g. ``capacity_mah`` or ``重量(kg)``."""
    for token in re.split(r"[\s_\-/()（）\[\]【】:：,，.]+", key):
        if not token:
            continue
        unit = _unit(token)
        if unit is not None:
            return unit
    for alias, dim, factor, _ci in _UNITS:
        if not alias.isascii() and len(alias) > 1 and alias in key:
            return dim, factor
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9][0-9,]*(?:\.[0-9]+)?\s*", value):
        parsed = parse_number(value)
        return parsed[0] if parsed else None
    return None


class _FactBuilder:
    def __init__(self, product: Product) -> None:
        self.facts = ProductFacts(product)
        self.default_currency = frozenset({product.currency}) if product.currency else None
        self.prices: list[float] = []
        self.original_prices: list[float] = []

    def text(self, text: str, *, discount_context: bool = False) -> None:
        facts = self.facts
        facts.numbers |= _numbers_in(text)
        for claim in extract_claims(text):
            if claim.kind in ("quantity", "count") and isinstance(claim.value, float):
                if claim.kind == "count":
                    facts.counts.setdefault(claim.dimension, set()).add(int(claim.value))
                facts.quantities.setdefault(claim.dimension, []).append(claim.value)
                if discount_context and claim.dimension == "percent":
                    facts.discounts.append(claim.value)
            elif claim.kind == "money" and isinstance(claim.value, float):
                facts.money.append(_Money(claim.value, claim.currencies))
            elif claim.kind == "amount_off" and isinstance(claim.value, float):
                facts.amounts_off.append(claim.value)
                facts.money.append(_Money(claim.value, claim.currencies))
            elif claim.kind == "discount" and isinstance(claim.value, float):
                facts.discounts.append(claim.value)
            elif claim.kind == "multiplier" and isinstance(claim.value, float):
                facts.multipliers.append(claim.value)
            elif claim.kind == "spec":
                facts.specs.add(str(claim.value))

    def attribute(self, key: str, value: Any) -> None:
        self.text(key)
        if isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                self.attribute(f"{key} {sub_key}", sub_value)
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [v for v in value if v not in (None, "")]
            self._count_items(key, len(items))
            for item in items:
                self.attribute(key, item)
            return
        number = _as_number(value)
        if number is not None:
            self._number_attribute(key, number)
            return
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,，、/|;；]", value) if p.strip()]
            if len(parts) > 1:
                self._count_items(key, len(parts))
            self.text(value, discount_context=bool(_DISCOUNT_KEY.search(key)))

    def _count_items(self, key: str, n: int) -> None:
        low = key.lower()
        for cls, words in _COUNT_KEY_WORDS.items():
            if any(w in low for w in words):
                self.facts.counts.setdefault(f"count:{cls}", set()).add(n)

    def _number_attribute(self, key: str, number: float) -> None:
        facts = self.facts
        facts.numbers.add(number)
        if _ORIGINAL_PRICE_KEY.search(key) and (_PRICE_KEY.search(key) or _MSRP_KEY.search(key)):
            self.original_prices.append(number)
            facts.money.append(_Money(number, self.default_currency))
            return
        if _PRICE_KEY.search(key):
            facts.money.append(_Money(number, self.default_currency))
            return
        if _DISCOUNT_KEY.search(key) and 1 < number < 100:
            facts.discounts.append(number)
        unit = _key_unit(key)
        if unit is not None:
            dim, factor = unit
            facts.quantities.setdefault(dim, []).append(number * factor)
        else:
            facts.bare_numbers.add(number)

    def build(self) -> ProductFacts:
        p = self.facts.product
        for text in (p.title, p.description, p.brand, p.category, *p.tags):
            if text:
                self.text(text, discount_context=False)
        for tag in p.tags:
            if _DISCOUNT_KEY.search(tag):
                self.text(tag, discount_context=True)
        for key, value in p.attributes.items():
            self.attribute(str(key), value)
        if p.price is not None:
            self.facts.money.append(_Money(float(p.price), self.default_currency))
            self.facts.numbers.add(float(p.price))
            for original in self.original_prices:
                if original > p.price > 0:
                    self.facts.discounts.append(100 * (1 - p.price / original))
                    self.facts.amounts_off.append(original - p.price)
        return self.facts


def product_facts(product: Product) -> ProductFacts:
    """Collect what ``product``'s data can back, once, for checking many texts."""
    return _FactBuilder(product).build()


# -- backing -------------------------------------------------------------------------
def _holds(data: float, claim: Claim) -> bool:
    assert isinstance(claim.value, float)
    eps = 1e-9 * max(1.0, abs(claim.value))
    if claim.comparator == "eq":
        return abs(data - claim.value) <= claim.tolerance + eps
    # A bound is not rounded ("over 2 years" excludes 18 months); only unit conversion slack applies.
    slack = eps + (0.005 * abs(claim.value) if claim.kind == "quantity" else 0.0)
    if claim.comparator == "le":
        return data <= claim.value + slack
    return data >= claim.value - slack


def _literal_holds(data: float, claim: Claim) -> bool:
    if claim.comparator != "eq" or math.isnan(claim.literal):
        return False
    return abs(data - claim.literal) <= claim.literal_tolerance + 1e-9 * max(1.0, abs(claim.literal))


def is_backed(claim: Claim, facts: ProductFacts) -> bool:
    """Whether the product data holds ``claim`` (see the module docstring for the rules)."""
    if claim.kind == "spec":
        return claim.value in facts.specs
    if not isinstance(claim.value, float):
        return False
    if claim.kind == "money":
        return any(
            _holds(m.value, claim)
            and (claim.currencies is None or m.currencies is None or bool(claim.currencies & m.currencies))
            for m in facts.money
        )
    if claim.kind == "amount_off":
        return any(_holds(v, claim) for v in facts.amounts_off) or any(
            _holds(m.value, claim)
            and (claim.currencies is None or m.currencies is None or bool(claim.currencies & m.currencies))
            for m in facts.money
        )
    if claim.kind == "discount":
        return any(_holds(v, claim) for v in facts.discounts)
    if claim.kind == "multiplier":
        return any(_holds(v, claim) for v in facts.multipliers)
    if claim.kind == "year":
        return any(_holds(v, claim) for v in facts.numbers)
    dims = {claim.dimension} | _COMPATIBLE.get(claim.dimension, frozenset())
    if any(_holds(v, claim) for d in dims for v in facts.quantities.get(d, ())):
        return True
    if claim.kind == "count" and any(_holds(float(v), claim) for v in facts.counts.get(claim.dimension, ())):
        return True
    if claim.kind == "quantity" and claim.dimension == "percent":
        if any(_holds(v, claim) for v in facts.discounts):
            return True
    return any(_literal_holds(v, claim) for v in facts.bare_numbers)


def unsupported_claims(text_or_variant: str | CopyVariant, product: Product | ProductFacts) -> list[str]:
    """The claims in the copy that the product data does not back, as written, each once."""
    text = text_or_variant.text() if isinstance(text_or_variant, CopyVariant) else text_or_variant
    facts = product if isinstance(product, ProductFacts) else product_facts(product)
    out: list[str] = []
    for claim in extract_claims(text):
        if claim.text not in out and not is_backed(claim, facts):
            out.append(claim.text)
    return out
