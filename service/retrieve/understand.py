"""Hard constraints a shopper stated in their own words (English and Chinese): price, brand, category, exclusions.

Policy (what is and is not read as a constraint):

* Price. "under/below/less than/max/up to/不超过/以内/以下" give ``price_max``; "over/at least/以上/起"
  give ``price_min``; "X-Y", "between X and Y", "X到Y", "X-Y之间" give both. "around/about/左右/上下" and
  a lone amount with a currency ("a $200 jacket", "200元的耳机") give a band of X ±20%
  (:data:`APPROX_BAND`). "budget of X"/"预算X" is an upper bound ("预算X左右" is the band). A bare number
  is a price only next to such a price word and never when a unit follows ("32 inch", "5000mAh", "65寸",
  "2 pack"); a Chinese numeral must hold a magnitude (十百千万) or carry a currency. Bounds that contradict
  each other are all dropped. ``currency`` is set only when written ($, usd, dollars, 元, 块, rmb, ¥ ...;
  ¥ is read as CNY).
* cheap / premium are soft signals, set whether or not a number was given. "性价比高" / "value for money"
  is *not* cheap: such shoppers accept mid-range prices, so it stays in the query for ranking.
* Category is set only when confident, because a wrong category filter hides good products: a shopper
  word maps to a catalog category through :data:`~service.retrieve.hint_words.CATEGORY_GROUPS` (or the
  ``category_hints`` given), else through a catalog segment name written in the query. Only real prefixes
  of the catalog's category paths are emitted. A word that names several places in the tree yields their
  common prefix, or nothing when they share none; so do several category words in one query. A category
  word that qualifies an accessory ("laptop bag", "手机壳", "case for laptop") or is followed by another
  category word ("dress shoes") does not count.
* Brand: a catalog brand written in the query (whole words for Latin script, substrings for CJK; known
  Chinese names of catalog brands, see :data:`~service.retrieve.hint_words.DEFAULT_BRAND_ALIASES`).
  Overlaps resolve to the longest; two different brands ("sony or bose") set none.
* Exclusions: "not/no/without/except/anything but/don't want X", "不要/不想要/不喜欢/不考虑/不含/排除/除了/别推荐X"
  put X in ``exclude_terms`` as written; an excluded catalog brand is also named, in the catalog's
  spelling, in ``exclude_brands`` and is never taken as ``brand``. "not too X"/"不要太X" is a degree, not an
  exclusion (price words there set cheap/premium). "除了X还要Y" ("besides X, also Y") excludes nothing.
  Exclusions are advisory: :func:`merge_filters` does not turn them into filters.
* in_stock: True for "in stock/有货/现货", False for "even if out of stock/缺货也行"; otherwise unset.
* ``cleaned_query`` is the query without the price, cheap/premium, stock and exclusion phrases; when
  nothing else is left it is the whole (normalized) query.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from service.retrieve.hint_words import (
    ACCESSORY_HEADS_CJK,
    ACCESSORY_HEADS_LATIN,
    CATEGORY_GROUPS,
    DEFAULT_BRAND_ALIASES,
    FOR_WORDS_CJK,
    FOR_WORDS_LATIN,
    GENERIC_SEGMENTS,
)
from service.text.numbers import CJK_MAGNITUDES, CJK_NUMERAL_CHARS, parse_chinese_number
from service.text.phrases import PhraseIndex, PhraseMatch, has_cjk, phrase_key, stem
from service.validate.recommend import Filters

if TYPE_CHECKING:
    from service.catalog.load import Catalog

APPROX_BAND = 0.20
""""around X" means X × (1 ± APPROX_BAND)."""


class Understood(BaseModel):
    """What the shopper's words say, beyond the words themselves. Every field is only what was found."""

    model_config = ConfigDict(extra="forbid")

    price_min: float | None = None
    price_max: float | None = None
    currency: str | None = Field(None, description='ISO code of a currency written in the query, e.g. "USD", "CNY".')
    cheap: bool = Field(False, description="Asked for cheap/affordable (便宜点, budget ...).")
    premium: bool = Field(False, description="Asked for high-end, or said price does not matter.")
    category: str | None = Field(None, description="A category path prefix of the catalog.")
    brand: str | None = Field(None, description="A catalog brand, in the catalog's spelling.")
    exclude_terms: list[str] = Field(default_factory=list, description="What the shopper said they do not want.")
    exclude_brands: list[str] = Field(default_factory=list, description="Catalog brands among exclude_terms.")
    in_stock: bool | None = None
    cleaned_query: str = Field("", description="The query without price and exclusion phrases, for retrieval.")

    def found(self) -> dict[str, Any]:
        """Only the fields that hold something (for the response's ``understood``)."""
        return self.model_dump(exclude_defaults=True)


# --- price grammar -------------------------------------------------------------------------------

_CJK_NUM = f"[{CJK_NUMERAL_CHARS}]"
_CUR_PRE = r"(?:us\$|\$|¥|€|£|(?<![a-z])(?:usd|rmb|cny|eur|gbp)(?![a-z])|人民币)"
_CUR_POST = (
    r"(?:块钱|块|元|人民币|美元|美金|欧元|英镑|刀|\$|(?:dollars?|bucks?|usd|rmb|cny|yuan|eur|euros?|gbp)(?![a-z]))"
)
_CURRENCIES = {
    "USD": ("us$", "$", "usd", "dollar", "dollars", "buck", "bucks", "美元", "美金", "刀"),
    "CNY": ("¥", "rmb", "cny", "yuan", "元", "块", "块钱", "人民币"),
    "EUR": ("€", "eur", "euro", "euros", "欧元"),
    "GBP": ("£", "gbp", "英镑"),
}
_CURRENCY_OF = {marker: code for code, markers in _CURRENCIES.items() for marker in markers}
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

# --- cheap / premium / stock -----------------------------------------------------------------------

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

# --- exclusions ------------------------------------------------------------------------------------

_NEG_EN = re.compile(
    r"(?<![a-z'-])(?:anything\s+but|everything\s+but|other\s+than|except(?:\s+for)?|excluding|exclude|without"
    r"|avoid(?:ing)?|(?:i\s+)?(?:don'?t|do\s+not)\s+(?:want|like|show\s+me|recommend|suggest|include)|not|no)"
    r"(?![a-z'-])",
    re.IGNORECASE,
)
_EN_WORD = re.compile(r"[ \t]*([a-z0-9][a-z0-9'&+-]*)", re.IGNORECASE)
_EN_ARTICLES = frozenset({"a", "an", "the", "any", "some"})
_EN_NOT_AN_EXCLUSION = frozenset(
    {"sure", "too", "very", "really", "necessarily", "only", "just", "so", "that", "this", "more", "less", "much",
     "need", "needed", "idea", "problem", "matter", "longer", "way", "rush", "worries", "worry", "big", "fan",
     "one", "doubt", "exactly", "quite", "particularly", "all", "always", "even", "yet", "enough", "entirely",
     "at", "for", "to", "in", "on", "with", "as", "if", "i", "it", "is", "be"}
)
_EN_STOP = frozenset(
    {"and", "but", "with", "for", "that", "which", "who", "whose", "please", "pls", "plz", "i", "i'm", "im", "it",
     "its", "it's", "is", "are", "was", "were", "be", "to", "in", "on", "at", "from", "by", "as", "because",
     "since", "so", "than", "then", "though", "just", "only", "like", "also", "too", "very", "either", "thanks",
     "thank", "if", "when", "while", "unless", "under", "over", "around", "about", "what", "where", "how",
     "should", "would", "could", "can", "will", "need", "want", "yet", "instead", "anymore", "thx", "ok", "okay",
     "really", "etc", "this", "these", "those", "my", "me"}
)
_EN_MAX_WORDS = 4

_CJK_STOP = r"的|和|或|跟|与|及|、|还|也|都|就|以外|之外|了|吧|呢|啊|呀|哦|嘛|哈|其他|其它|别的|但|而|要|是|有"
_NEG_ZH = re.compile(
    r"(?:不想要|(?<!要)不要|不喜欢|不考虑|不含|排除|除了|除去|(?<![特区分识告离级类性派个辨差])别(?:给我)?(?:推荐|买|选|要|拿|来))"
    r"(?:给我)?(?:推荐|买|选|看)?\s*(?:那种|这种|那款|这款|任何|什么)?"
    r"(?P<obj>[a-z][a-z0-9'&+-]*(?: [a-z][a-z0-9'&+-]*){0,2}"
    rf"|(?:(?!{_CJK_STOP})[\u4e00-\u9fff0-9a-z+-])+)",
    re.IGNORECASE,
)
_ZH_MORE = re.compile(
    r"\s*(?:和|或者|或|跟|、|与|及)\s*"
    rf"(?P<obj>[a-z][a-z0-9'&+-]*|(?:(?!{_CJK_STOP})[\u4e00-\u9fff0-9a-z+-])+)",
    re.IGNORECASE,
)
_ZH_NOT_AN_EXCLUSION = ("太", "很", "特别", "那么", "求", "紧", "钱", "用", "去", "看", "说", "管", "担心", "怕")
_ZH_BESIDES = re.compile(r"\s*(?:以外|之外)?\s*[,，]?\s*(?:还要|也要|还得|也得|更要|还需要|还想|也想|还能|也能|还可以)")
_ZH_MAX_CHARS = 8

# --- category guards -------------------------------------------------------------------------------

_NEXT_LATIN_WORD = re.compile(r"[\s-]*(?:'s\s*)?([a-z]+)")
_ACCESSORY_AFTER_CJK = re.compile(rf"\s*的?(?:{'|'.join(ACCESSORY_HEADS_CJK)})")
_ADJACENT = re.compile(r"[\s-]*")

_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?，。；：！？、])")
_REPEATED_PUNCT = re.compile(r"([,.;:!?，。；：！？、])(?:\s*[,.;:!?，。；：！？、])+")
_LEADING_JUNK = re.compile(r"(?:[\s,.;:!?，。；：！？、]|(?:and|but|or|with|also)\b|但是|但|而且|并且|和|的)+", re.IGNORECASE)
_TRAILING_JUNK = re.compile(
    r"(?:[\s,.;:!?，。；：！？、]|(?<![a-z])(?:and|but|or|with|also|for)|但是|但|而且|并且|和|的)+\Z", re.IGNORECASE
)
_TRAILING_WINDOW = 24  # dangling words are short: look only at the end of the text
_ALNUM = re.compile(r"[^\W_]")
_SEGMENT_PARTS = re.compile(r"\s*(?:&|,|\+|\band\b|、|和)\s*")


def _fold(name: str) -> str:
    """A spelling-insensitive key for a brand: no case, accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def _is_plural(name: str) -> bool:
    """"Tents", "Power Banks": the name ends in an English plural."""
    last = name.lower().split()[-1] if name.split() else ""
    return last.isascii() and last.isalpha() and stem(last) != last


def _ends_with_word(text: str, words: Iterable[str]) -> bool:
    """``text`` ends with one of ``words`` as a whole word."""
    for word in words:
        if text.endswith(word) and (len(text) == len(word) or not text[-len(word) - 1].isalpha()):
            return True
    return False


def _is_under(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor + "/")


def _common_prefix(paths: Iterable[str]) -> str:
    """The longest segment-wise common prefix of category paths ("" if none)."""
    split = [p.split("/") for p in paths]
    if not split:
        return ""
    prefix: list[str] = []
    for parts in zip(*split):
        if any(part != parts[0] for part in parts):
            break
        prefix.append(parts[0])
    return "/".join(prefix)


class QueryUnderstanding:
    """Reads price, brand, category, stock and exclusion constraints out of a shopper's query.

    Built once per catalog (it indexes the catalog's categories and brands); :meth:`parse` is then
    cheap and thread-safe.
    """

    def __init__(
        self,
        categories: Iterable[str],
        brands: Iterable[str],
        category_hints: Mapping[str, str] | None = None,
        *,
        brand_aliases: Mapping[str, str] | None = None,
    ) -> None:
        """``category_hints`` maps shopper words to category paths and wins over the built-in groups;
        ``brand_aliases`` maps other names to catalog brands and adds to the built-in Chinese names.
        Hints and aliases that point at nothing in the catalog are ignored."""
        self._categories = self._index_categories(categories, category_hints or {})
        self._brands = self._index_brands(brands, {**DEFAULT_BRAND_ALIASES, **(brand_aliases or {})})

    @classmethod
    def from_catalog(cls, catalog: Catalog, category_hints: Mapping[str, str] | None = None) -> QueryUnderstanding:
        """Understanding over ``catalog``'s categories and brands."""
        return cls(
            (p.category for p in catalog.products if p.category),
            (p.brand for p in catalog.products if p.brand),
            category_hints,
        )

    # --- index building ---------------------------------------------------------------------------

    @staticmethod
    def _index_categories(categories: Iterable[str], hints: Mapping[str, str]) -> PhraseIndex[str]:
        prefixes: dict[str, str] = {}  # lowercased path -> path as the catalog spells it
        for category in categories:
            parts = [p.strip() for p in category.split("/") if p.strip()]
            for depth in range(1, len(parts) + 1):
                path = "/".join(parts[:depth])
                prefixes.setdefault(path.lower(), path)

        by_segment: dict[object, set[str]] = {}  # segment name key -> paths ending in it
        names: dict[object, str] = {}
        for path in prefixes.values():
            segment = path.rsplit("/", 1)[-1]
            # "TV & Video" is also found as "TV" and as "Video".
            for name in dict.fromkeys([segment, *_SEGMENT_PARTS.split(segment)]):
                key = phrase_key(name, stemmed=True)
                if key is not None:
                    by_segment.setdefault(key, set()).add(path)
                    names.setdefault(key, name)

        index: PhraseIndex[str] = PhraseIndex(stemmed=True)
        for word, path in hints.items():  # the shop's own hints first: they win
            canonical = prefixes.get("/".join(p.strip() for p in path.split("/") if p.strip()).lower())
            if canonical:
                index.add(word, canonical)
        for group in CATEGORY_GROUPS:
            paths: set[str] = set()
            for name in group.segments:
                paths |= by_segment.get(phrase_key(name, stemmed=True), set())
            target = _common_prefix(paths)
            if target:
                for alias in group.aliases:
                    index.add(alias, target)
        # A segment name written in the query, when it names a thing: CJK names, several words
        # ("Power Banks") or a plural ("Tents"). A lone singular ("Instant", "Action", "Running") is too
        # often an adjective, and a lone accessory ("Cases") too often belongs to something else, so they
        # count only with their parent's name ("instant camera", "phone case").
        for key, paths in by_segment.items():
            name = names[key]
            if name.lower() in GENERIC_SEGMENTS or (isinstance(key, tuple) and " ".join(key) in GENERIC_SEGMENTS):
                continue
            target = _common_prefix(paths)
            if not target:
                continue
            if isinstance(key, str):
                if len(name) >= 2:
                    index.add(name, target)
            elif len(key) > 1 or (_is_plural(name) and key[0] not in ACCESSORY_HEADS_LATIN):
                index.add(name, target)
        for path in prefixes.values():
            parts = path.split("/")
            if len(parts) < 2 or has_cjk(parts[-1]) or len(parts[-1].split()) > 1:
                continue
            if not _is_plural(parts[-1]):  # "Cameras/Instant" -> "instant camera"
                index.add(f"{parts[-1]} {parts[-2]}", path)
            elif stem(parts[-1].lower()) in ACCESSORY_HEADS_LATIN:  # "Phones/Cases" -> "phone case"
                index.add(f"{parts[-2]} {parts[-1]}", path)
        return index

    @staticmethod
    def _index_brands(brands: Iterable[str], aliases: Mapping[str, str]) -> PhraseIndex[str]:
        canonical: dict[str, str] = {}
        index: PhraseIndex[str] = PhraseIndex()
        for brand in brands:
            brand = brand.strip()
            folded = _fold(brand)
            if len(folded) < 2 or folded.isdigit():
                continue  # "X", "3": too likely to be something else
            canonical.setdefault(folded, brand)
            index.add(brand, canonical[folded])
            if brand.lower().startswith("the "):
                index.add(brand[4:], canonical[folded])
        for alias, target in aliases.items():
            brand = canonical.get(_fold(target))
            if brand is not None:
                index.add(alias, brand)
        return index

    # --- parsing ----------------------------------------------------------------------------------

    def parse(self, query: str) -> Understood:
        """Constraints stated in ``query``; an empty :class:`Understood` (but ``cleaned_query``) if none."""
        text = _WS.sub(" ", unicodedata.normalize("NFKC", query)).strip()
        chars = list(text)  # removed phrases are blanked here, keeping offsets valid

        def blank(start: int, end: int) -> None:
            chars[start:end] = " " * (end - start)

        out: dict[str, Any] = {}
        if _MAY_HOLD_PRICE.search(text):
            self._read_prices(text, out, blank)
        masked = "".join(chars)
        for m in _FLAGS.finditer(masked):
            if m.group("premium") is not None:
                out["premium"] = True
            elif m.group("cheap") is not None:
                out["cheap"] = True
            else:
                out["in_stock"] = m.group("in_stock") is not None
            blank(m.start(), m.end())
        masked = "".join(chars)

        excluded = self._read_exclusions(masked, blank)
        if excluded:
            out["exclude_terms"] = excluded
            brands = list(dict.fromkeys(m.value for term in excluded for m in self._brands.find(term)))
            if brands:
                out["exclude_brands"] = brands
        masked = "".join(chars)

        brands = {m.value for m in self._brands.find(masked)} - set(out.get("exclude_brands", ()))
        if len(brands) == 1:
            out["brand"] = brands.pop()
        category = self._read_category(masked)
        if category:
            out["category"] = category
        out["cleaned_query"] = self._clean(masked) or text
        return Understood(**out)

    def _read_prices(self, text: str, out: dict[str, Any], blank: Any) -> None:
        lows: list[float] = []
        highs: list[float] = []
        currency: str | None = None
        for m in _PRICE.finditer(text):
            found = self._price_of(m)
            if found is None:
                continue
            low, high, cur = found
            if low is not None:
                lows.append(low)
            if high is not None:
                highs.append(high)
            currency = currency or cur
            blank(m.start(), m.end())
        price_min = max(lows) if lows else None
        price_max = min(highs) if highs else None
        if price_min is not None and price_max is not None and price_min > price_max:
            price_min = price_max = None  # the shopper contradicted themselves: trust no bound
        if price_min is not None:
            out["price_min"] = round(price_min, 2)
        if price_max is not None:
            out["price_max"] = round(price_max, 2)
        if currency:
            out["currency"] = currency

    @staticmethod
    def _price_of(m: re.Match[str]) -> tuple[float | None, float | None, str | None] | None:
        """(low, high, currency) for one price match, or None when it is not a price after all."""
        if m.group("alt_range") is not None:
            a, b = _amount_of(m, "ra"), _amount_of(m, "rb")
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
            a = _amount_of(m, "pa")
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
            a = _amount_of(m, "sa")
            if a is None:
                return None
            op = " ".join(m.group("sop").lower().split())
            if op == "+" and not (a[1] or a[2]):
                return None  # "50+ colors"
            return _bounds(_KIND_OF_OP[op], a[0]) + (a[1],)
        a = _amount_of(m, "la")
        if a is None or a[1] is None:
            return None  # a lone number is a price only with its currency
        return _bounds("approx", a[0]) + (a[1],)

    @staticmethod
    def _read_exclusions(text: str, blank: Any) -> list[str]:
        terms: list[str] = []
        for m in _NEG_EN.finditer(text):
            found, end = _english_object(text, m.end())
            if found:
                terms.extend(found)
                blank(m.start(), end)
        for m in _NEG_ZH.finditer(text):
            obj = m.group("obj").strip()
            if obj.startswith(_ZH_NOT_AN_EXCLUSION) or (has_cjk(obj) and len(obj) > _ZH_MAX_CHARS):
                continue
            found, end = [obj], m.end()
            more = _ZH_MORE.match(text, end)
            while more and len(found) < 3:
                found.append(more.group("obj").strip())
                end = more.end()
                more = _ZH_MORE.match(text, end)
            if m.group(0).startswith(("除了", "除去")) and _ZH_BESIDES.match(text, end):
                continue  # "除了好看还要保暖": besides, not except
            if text.startswith("的", end):
                end += 1
            terms.extend(found)
            blank(m.start(), end)
        return list(dict.fromkeys(terms))

    def _read_category(self, text: str) -> str | None:
        low = text.lower()
        matches = self._categories.find(low)
        kept: list[PhraseMatch[str]] = []
        for match in matches:
            if match.end and low[match.end - 1].isascii():
                nxt = _NEXT_LATIN_WORD.match(low, match.end)
                if nxt and stem(nxt.group(1)) in ACCESSORY_HEADS_LATIN:
                    continue
                if _ends_with_word(low[: match.start].rstrip(), FOR_WORDS_LATIN):
                    continue
            else:
                if _ACCESSORY_AFTER_CJK.match(low, match.end) or low[: match.start].rstrip().endswith(FOR_WORDS_CJK):
                    continue
            kept.append(match)
        # "dress shoes", "gaming mouse": of two adjacent category words the last names the thing, unless
        # it is only a broader name for the first ("trail running shoes").
        chosen: list[str] = []
        for i, match in enumerate(kept):
            following = kept[i + 1] if i + 1 < len(kept) else None
            if following is not None and _ADJACENT.fullmatch(low, match.end, following.start):
                if _is_under(match.value, following.value):
                    kept[i + 1] = PhraseMatch(following.start, following.end, match.value)
                continue
            chosen.append(match.value)
        return _common_prefix(set(chosen)) or None

    @staticmethod
    def _clean(masked: str) -> str:
        cleaned = _WS.sub(" ", masked).strip()
        cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", cleaned)
        cleaned = _REPEATED_PUNCT.sub(r"\1", cleaned)
        lead = _LEADING_JUNK.match(cleaned)
        if lead:
            cleaned = cleaned[lead.end() :]
        # Dangling words left where a removed phrase was ("shoes but", "跑鞋，但").
        tail = _TRAILING_JUNK.search(cleaned, max(0, len(cleaned) - _TRAILING_WINDOW))
        if tail:
            cleaned = cleaned[: tail.start()]
        return cleaned if _ALNUM.search(cleaned) else ""


def _amount_of(m: re.Match[str], tag: str) -> tuple[float, str | None, bool, float] | None:
    """(value, currency, has multiplier, value before the multiplier) of one amount, or None if it is not one."""
    num = m.group(f"{tag}num")
    pre, post = m.group(f"{tag}pre"), m.group(f"{tag}post")
    mult = m.group(f"{tag}mult")
    if not (num[0].isdigit() or num[0] == "."):
        if not any(ch in CJK_MAGNITUDES for ch in num) and post not in _STRONG_CJK_CURRENCY:
            return None  # "一块", "两个": a lone digit word is a count, not a price
    value = parse_chinese_number(num)
    if value is None or value <= 0:
        return None
    base = parse_chinese_number(num[: m.start(f"{tag}mult") - m.start(f"{tag}num")]) if mult else value
    marker = (pre or post or "").lower().strip()
    return value, _CURRENCY_OF.get(marker), mult is not None, base or value


def _bounds(kind: str, value: float) -> tuple[float | None, float | None]:
    if kind == "max":
        return None, value
    if kind == "min":
        return value, None
    return value * (1 - APPROX_BAND), value * (1 + APPROX_BAND)


def _english_object(text: str, pos: int) -> tuple[list[str], int]:
    """The thing(s) an English negation at ``pos`` refers to ("a rain jacket", "red or blue"), and where they end."""
    terms: list[str] = []
    current: list[str] = []
    end = pos
    while len(current) < _EN_MAX_WORDS:
        m = _EN_WORD.match(text, pos)
        if m is None:
            break
        word = m.group(1)
        low = word.lower()
        pos = m.end()
        if not current:
            if low in _EN_ARTICLES:
                continue
            if not terms and (low in _EN_NOT_AN_EXCLUSION or low[0].isdigit()):
                return [], end
            if low in _EN_STOP or low in ("or", "nor"):
                break
        elif low in ("or", "nor"):
            terms.append(" ".join(current))
            current = []
            continue
        elif low in _EN_STOP:
            break
        current.append(word)
        end = m.end()
    if current:
        terms.append(" ".join(current))
    return terms, end


def merge_filters(
    explicit: Filters,
    understood: Understood,
    explicit_fields: set[str] | frozenset[str],
    *,
    catalog_currency: str | None = None,
) -> Filters:
    """The filters to retrieve with: fields the client sent win; the shopper's words fill the others.

    ``explicit_fields`` is ``filters.model_fields_set`` of the request. ``catalog_currency`` is the one
    currency of a single-currency catalog (None for a mixed one). Understood price bounds are not used
    when they are in another currency than a single-currency catalog's (there is no conversion), nor when
    they contradict an explicit bound; in a mixed catalog, a bound stated in a currency also restricts the
    answer to products priced in it. What the shopper ruled out becomes ``exclude_terms`` and
    ``exclude_brands``; cheap/premium stay preferences, not filters.
    """
    data = explicit.model_dump()
    currency_ok = not (
        catalog_currency and understood.currency and understood.currency != catalog_currency.strip().upper()
    )
    if currency_ok:
        taken = []
        for name in ("price_min", "price_max"):
            value = getattr(understood, name)
            if name not in explicit_fields and value is not None:
                data[name] = value
                taken.append(name)
        if data["price_min"] is not None and data["price_max"] is not None and data["price_min"] > data["price_max"]:
            for name in taken:
                data[name] = getattr(explicit, name)
            taken = []
        if taken and understood.currency and not catalog_currency and "currency" not in explicit_fields:
            data["currency"] = understood.currency
    for name in ("category", "brand", "in_stock"):
        value = getattr(understood, name)
        if name not in explicit_fields and value is not None:
            data[name] = value
    for name in ("exclude_terms", "exclude_brands"):
        if name not in explicit_fields and getattr(understood, name):
            data[name] = list(getattr(understood, name))
    if data["brand"] and "brand" in explicit_fields:  # the client's brand wins over a brand the words ruled out
        data["exclude_brands"] = [b for b in data["exclude_brands"] if b.casefold() != data["brand"].casefold()]
    return Filters.model_validate(data)
