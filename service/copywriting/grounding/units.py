"""What claims are measured in: units and their dimensions, counted nouns, and currency markers.

Units are normalized to a base unit per dimension (mAh, Wh, W, byte, mm, ml, g, Hz, s, ...), so
``20000mAh == 2万毫安时 == 20Ah`` and ``1.5kg == 1500g``; a month is a twelfth of a year. Case matters
only where a letter means two things (``g`` gram / ``G`` in 5G, ``m`` metre / ``M``). What a currency
marker means is :func:`service.text.currency.currency_of`'s answer, shared with query understanding;
this module holds the patterns that find the markers in copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# (alias, dimension, factor to the dimension's base unit, case-insensitive?)
# Case matters where a letter means two things: g (gram) / G (5G), m (metre) / M, l / L.
UNITS: tuple[tuple[str, str, float, bool], ...] = (
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
COMPATIBLE: dict[str, frozenset[str]] = {
    "degree": frozenset({"celsius"}),
    "celsius": frozenset({"degree"}),
}

# Counted nouns -> class. Generic measure words like 个 are left out: "3个理由" is no product fact.
COUNT_NOUNS: tuple[tuple[str, str, bool], ...] = (
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
COUNT_KEY_WORDS: dict[str, tuple[str, ...]] = {
    "color": ("color", "colour", "颜色", "色"),
    "size": ("size", "尺码", "尺寸"),
    "style": ("style", "款式"),
    "piece": ("piece", "pcs", "quantity", "count", "件数", "数量"),
    "pack": ("pack", "set", "套装", "件套"),
    "pair": ("pair", "双"),
    "mode": ("mode", "speed", "level", "setting", "档"),
    "port": ("port", "接口"),
}

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


UNIT_ALT = _alt((u[0], u[3]) for u in UNITS)
COUNT_ALT = _alt((c[0], c[2]) for c in COUNT_NOUNS)
# Case-sensitive aliases are looked up as written, the others lower-cased: "M" is no metre.
_UNIT_EXACT: dict[str, tuple[str, float]] = {a: (d, f) for a, d, f, ci in UNITS if not ci}
_UNIT_FOLDED: dict[str, tuple[str, float]] = {a.lower(): (d, f) for a, d, f, ci in UNITS if ci}
_COUNT_EXACT: dict[str, str] = {a: c for a, c, ci in COUNT_NOUNS if not ci}
_COUNT_FOLDED: dict[str, str] = {a.lower(): c for a, c, ci in COUNT_NOUNS if ci}

CURRENCY_SIGN = r"(?:(?i:US|HK|NT|CA|AU|NZ)\$|[CAS]\$|\$|¥|€|£|₹|₩)"
CURRENCY_CODE = r"(?<![A-Za-z])(?i:RMB|CNY|USD|EUR|GBP|JPY|HKD|CAD|AUD|SGD|NZD|TWD|KRW|INR)"
CURRENCY_SUFFIX = (
    r"(?:块钱|元|块|人民币|美元|美金|欧元|英镑|日元|港元|港币|"
    r"(?i:dollars?|bucks|euros?|yuan|RMB|CNY|USD|EUR|GBP|JPY|HKD|CAD|AUD|SGD|NZD|TWD|KRW|INR)(?![A-Za-z]))"
)
# Every marker the patterns above find, for the test that they are all in service.text.currency's table.
CURRENCY_MARKERS = (
    "US$", "HK$", "NT$", "CA$", "AU$", "NZ$", "C$", "A$", "S$", "$", "¥", "€", "£", "₹", "₩",
    "RMB", "CNY", "USD", "EUR", "GBP", "JPY", "HKD", "CAD", "AUD", "SGD", "NZD", "TWD", "KRW", "INR",
    "块钱", "元", "块", "人民币", "美元", "美金", "欧元", "英镑", "日元", "港元", "港币",
    "dollar", "dollars", "bucks", "euro", "euros", "yuan",
)


def unit_of(text: str) -> tuple[str, float] | None:
    """(dimension, factor to its base unit) of a unit as written (``"mAh"``, ``"fl oz"``, ``"毫安时"``), or None."""
    text = re.sub(r"[  -]+", " ", text.strip())
    return _UNIT_EXACT.get(text) or _UNIT_FOLDED.get(text.lower())


def count_class(text: str) -> str | None:
    """The class of a counted noun as written (``"colors"`` -> ``"color"``, ``"双"`` -> ``"pair"``), or None."""
    text = re.sub(r"[  -]+", " ", text.strip())
    return _COUNT_EXACT.get(text) or _COUNT_FOLDED.get(text.lower())


def key_unit(key: str) -> tuple[str, float] | None:
    """The unit an attribute key names, e.g. ``capacity_mah`` or ``重量(kg)``."""
    for token in re.split(r"[\s_\-/()（）\[\]【】:：,，.]+", key):
        if not token:
            continue
        unit = unit_of(token)
        if unit is not None:
            return unit
    for alias, dim, factor, _ci in UNITS:
        if not alias.isascii() and len(alias) > 1 and alias in key:
            return dim, factor
    return None
