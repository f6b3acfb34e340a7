"""Per-market lists of words marketing copy must not use, and the check that finds them.

**zh** follows the PRC Advertising Law (广告法): Article 9(3) forbids "国家级"、
"最高级"、"最佳" and the like, which regulators (SAMR and local bureaus) read as every
absolute or superlative term; Article 4 and 28 forbid false or unprovable
claims; Article 17 keeps disease-treatment claims out of ads for anything but
medicine and medical devices; Article 14 of the Trademark Law keeps "驰名商标" out
of ads. The groups below are the "极限词" lists sellers and platforms work with.

**en** holds claims that US/EU rules treat as needing proof or a licence:
guarantees, medical and clinical claims (FTC Act, FDA), unprovable rankings,
safety absolutes, and environmental claims (FTC Green Guides, EU Green Claims
rules), which are allowed when the product data holds a certification (see
:func:`has_certification`).

Matching (see :mod:`service.text.phrases`): case-insensitive after NFKC,
whole words for Latin script, substrings for Chinese. Bare ``最`` is a term, so
every 最-superlative is caught even when unlisted; words where 最 is no claim
(``最近`` recently, ``最初``, ``最终``, ``最后`` last) are exceptions, and so are
``第一次``/``第一步``/``第一时间`` (no ranking) and fibre contents such as ``100%纯棉``
(a label the textile rules require). Longer terms win: ``全网最低价`` reports
``全网最低价``, not ``最``. Words like ``first``, ``best`` or ``top`` alone are left out
of en because they are mostly harmless (``first aid kit``, ``best for travel``).

Configuration: ``ComplianceRules.default(locale)`` or :func:`compliance_rules` with
the settings below; ``.extended(terms)`` adds a shop's own terms and
``.allowing(words)`` adds exceptions (the copy checks allow the product's brand,
so 永久 bicycles or a 最生活 towel are not flagged).

- ``SHOPGUIDE_COPY_COMPLIANCE``: ``default`` (the lists here) or ``off`` (none;
  configured extra terms still apply).
- ``SHOPGUIDE_COPY_EXTRA_BANNED_<LOCALE>`` (e.g. ``..._ZH``, ``..._EN``): more terms
  for one language, a JSON array or a comma/newline separated list.
- ``SHOPGUIDE_COPY_EXTRA_BANNED``: more terms for every language.

``Settings`` reads the last two; ``bulk.factory.copy_extra_terms`` hands them to the checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from service.catalog.product import Product
from service.text.phrases import PhraseIndex, leftmost_longest, normalize
from service.text.script import scripts_in

__all__ = [
    "COMPLIANCE_MODES",
    "ComplianceBook",
    "ComplianceHit",
    "ComplianceRules",
    "ComplianceTerm",
    "compliance_rules",
    "find_banned",
    "has_certification",
    "parse_term_list",
    "primary_language",
    "text_languages",
]

ComplianceMode = Literal["default", "off"]
COMPLIANCE_MODES: tuple[str, ...] = ("default", "off")
ENV_MODE = "SHOPGUIDE_COPY_COMPLIANCE"

# -- zh: 广告法 ----------------------------------------------------------------------------------
_ZH_GROUPS: dict[str, tuple[str, ...]] = {
    # Art. 9(3): superlatives with 最
    "superlative_zui": (
        "最", "最佳", "最好", "最高", "最低", "最优", "最优秀", "最强", "最大", "最新", "最先进", "最便宜",
        "最低价", "最高级", "最高端", "最顶级", "最受欢迎", "最流行", "最时尚", "最舒适", "最具", "最赚",
        "最爱", "最热", "最畅销", "最后一波", "最后机会",
    ),
    # Art. 9(3): "first", "only", rankings
    "ranking": (
        "第一", "中国第一", "全国第一", "全网第一", "销量第一", "排名第一", "行业第一", "第一品牌", "唯一",
        "独一无二", "NO.1", "TOP1", "TOP.1", "一流", "冠军", "销量冠军", "之王", "王者", "王牌",
    ),
    # Art. 9(3): 级/极 grades
    "grade": (
        "国家级", "世界级", "全球级", "宇宙级", "顶级", "顶尖", "尖端", "极品", "极佳", "绝佳", "极致", "终极",
        "至尊", "巅峰",
    ),
    # Art. 9(3): firsts and exclusives
    "first_exclusive": (
        "首个", "首选", "首家", "首款", "首发", "全网首发", "全国首发", "独家", "独家配方",
    ),
    # Art. 9(3), 28: leadership
    "leadership": ("领先", "遥遥领先", "世界领先", "领导品牌", "领袖品牌", "领导者", "缔造者"),
    # Art. 4, 28: absolutes and unprovable claims
    "absolute": (
        "绝对", "100%", "百分之百", "史无前例", "前无古人", "永久", "万能", "祖传", "特效", "无敌", "纯天然",
        "零风险", "全网最低", "全网最低价", "全网最便宜",
    ),
    # Art. 9(2), 28; Trademark Law Art. 14: authority
    "authority": (
        "国家免检", "质量免检", "免检", "特供", "专供", "国家领导人推荐", "驰名商标", "中国驰名商标",
        "填补国内空白",
    ),
    # Art. 28: inducements and false urgency
    "inducement": (
        "点击领奖", "恭喜获奖", "全民免单", "万人疯抢", "抢疯了", "再不抢就没了", "错过就没机会了",
        "不会更便宜了", "随时涨价", "马上涨价", "仅此一次",
    ),
    # Art. 17: disease treatment outside medicine
    "medical": (
        "治疗", "治愈", "根治", "疗效", "消炎", "抗炎", "抗癌", "防癌", "药用", "包治", "无副作用",
    ),
}
_ZH_CERTIFIABLE: dict[str, tuple[str, ...]] = {
    # Art. 28 and the organic / green product labelling rules: allowed with a certificate
    "environmental": ("环保", "可降解", "零污染", "无污染", "有机", "绿色食品", "零甲醛"),
}
_ZH_EXCEPTIONS: tuple[str, ...] = (
    "最近", "最初", "最终", "最后",
    "第一次", "第一步", "第一眼", "第一时间", "第一天", "第一代", "王者荣耀",
    "100%棉", "100%纯棉", "100%棉质", "100%羊毛", "100%纯羊毛", "100%羊绒", "100%山羊绒", "100%真丝",
    "100%桑蚕丝", "100%亚麻", "100%涤纶", "100%聚酯纤维", "100%锦纶", "100%尼龙", "100%蚕丝",
)

# -- en: FTC / FDA / Green Guides ----------------------------------------------------------------------
_EN_GROUPS: dict[str, tuple[str, ...]] = {
    "guarantee": ("guaranteed", "money-back guarantee", "lifetime guarantee", "guaranteed results"),
    "medical": (
        "cure", "cures", "cured", "heals", "clinically proven", "clinically tested", "clinically shown",
        "scientifically proven", "FDA approved", "FDA cleared", "FDA certified", "doctor recommended",
        "dermatologist recommended", "medical grade", "prevents disease", "boosts immunity", "immune boosting",
        "detox", "anti-inflammatory",
    ),
    "ranking": (
        "best ever", "best in the world", "world's best", "best on the market", "#1", "No. 1", "number one",
        "number 1", "lowest price", "lowest price ever", "cheapest",
    ),
    "safety": (
        "risk-free", "100% safe", "completely safe", "totally safe", "perfectly safe", "non-toxic",
        "chemical-free", "hypoallergenic",
    ),
    "miracle": ("miracle", "miraculous", "magic cure"),
}
_EN_CERTIFIABLE: dict[str, tuple[str, ...]] = {
    "environmental": (
        "eco-friendly", "environmentally friendly", "sustainable", "sustainably made", "biodegradable",
        "compostable", "carbon neutral", "organic", "recyclable", "zero waste", "plastic-free",
        "planet-friendly",
    ),
}

# Evidence of a certification in product data. "certified refurbished" is no eco label.
_CERT_MARKERS = (
        "certified", "certification", "certificate", "FSC", "OEKO-TEX", "GOTS", "Energy Star", "USDA Organic",
        "Fair Trade", "Fairtrade", "Cradle to Cradle", "bluesign", "EU Ecolabel", "GRS", "RCS", "B Corp", "BPI",
        "TÜV", "TUV", "Rainforest Alliance", "Green Seal", "EPEAT", "ECOCERT", "COSMOS", "认证", "十环",
    "环境标志", "绿色产品", "检测报告",
)
_NOT_CERTIFICATIONS = ("certified refurbished", "certified pre-owned", "certified used", "certified renewed")


@dataclass(frozen=True)
class ComplianceTerm:
    """One listed term; ``needs_certification`` terms are allowed when the product is certified."""

    term: str
    group: str
    needs_certification: bool = False


@dataclass(frozen=True)
class ComplianceHit:
    """Where a compliance term was found (``found`` is the normalized matched text)."""

    term: str
    group: str
    found: str
    start: int
    end: int


@dataclass(frozen=True)
class ComplianceRules:
    """A locale's compliance terms, with exceptions that shadow them."""

    locale: str
    terms: tuple[ComplianceTerm, ...] = ()
    exceptions: tuple[str, ...] = ()
    _index: PhraseIndex[ComplianceTerm | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _term_index(self.terms, self.exceptions))

    @classmethod
    def default(cls, locale: str) -> ComplianceRules:
        """The built-in list for ``locale``'s language (``zh``, ``en``); empty for others."""
        lang = primary_language(locale)
        if lang == "zh":
            groups, certifiable, exceptions = _ZH_GROUPS, _ZH_CERTIFIABLE, _ZH_EXCEPTIONS
        elif lang == "en":
            groups, certifiable, exceptions = _EN_GROUPS, _EN_CERTIFIABLE, ()
        else:
            return cls(lang)
        terms = [ComplianceTerm(t, g) for g, ts in groups.items() for t in ts]
        terms += [ComplianceTerm(t, g, needs_certification=True) for g, ts in certifiable.items() for t in ts]
        return cls(lang, tuple(terms), exceptions)

    @classmethod
    def off(cls, locale: str = "") -> ComplianceRules:
        """No terms at all."""
        return cls(primary_language(locale))

    def extended(self, extra_terms: Iterable[str], group: str = "custom") -> ComplianceRules:
        """These rules plus ``extra_terms`` (blank ones dropped)."""
        extra = tuple(ComplianceTerm(t.strip(), group) for t in extra_terms if t and t.strip())
        return ComplianceRules(self.locale, self.terms + extra, self.exceptions)

    def merged(self, others: Iterable[ComplianceRules]) -> ComplianceRules:
        """These rules and ``others``'s terms and exceptions together (for text in several scripts)."""
        terms, exceptions = list(self.terms), list(self.exceptions)
        for other in others:
            terms += [t for t in other.terms if t not in terms]
            exceptions += [e for e in other.exceptions if e not in exceptions]
        return ComplianceRules(self.locale, tuple(terms), tuple(exceptions))

    def allowing(self, words: Iterable[str]) -> ComplianceRules:
        """These rules with ``words`` as exceptions: a brand such as 永久 (bicycles) is no claim.

        An exception hides every term it covers at that position, so allowing
        ``永久`` also lets ``永久保修`` through in that product's copy.
        """
        extra = tuple(w.strip() for w in words if w and w.strip())
        return ComplianceRules(self.locale, self.terms, self.exceptions + extra) if extra else self

    def matches(self, text: str, *, certified: bool = False, allow: Iterable[str] = ()) -> list[ComplianceHit]:
        """Every hit in ``text``; certifiable terms are skipped when ``certified``; ``allow`` as in :meth:`allowing`."""
        norm = normalize(text)
        found = self._index.find_all(norm)
        allowed = [w for w in allow if w and w.strip()]
        if allowed:  # this call's exceptions go first: they win a tie with a term written the same
            found = _term_index((), allowed).find_all(norm) + found
        out = []
        for m in leftmost_longest(found):
            term = m.value
            if term is None or (term.needs_certification and certified):
                continue
            out.append(ComplianceHit(term.term, term.group, norm[m.start : m.end], m.start, m.end))
        return out

    def find(self, text: str, *, certified: bool = False, allow: Iterable[str] = ()) -> list[str]:
        """The terms found in ``text``, each once, in order of first appearance."""
        return list(dict.fromkeys(h.term for h in self.matches(text, certified=certified, allow=allow)))


def _term_index(terms: Iterable[ComplianceTerm], exceptions: Iterable[str]) -> PhraseIndex[ComplianceTerm | None]:
    """Terms to find, and exceptions (value None) that hide the terms inside them; an exception wins a tie."""
    index: PhraseIndex[ComplianceTerm | None] = PhraseIndex()
    for exception in exceptions:
        index.add(exception, None)
    for term in terms:
        index.add(term.term, term)
    return index


_CERT_INDEX = _term_index((ComplianceTerm(m, "certification") for m in _CERT_MARKERS), _NOT_CERTIFICATIONS)


def find_banned(text: str, banned_words: Sequence[str]) -> list[str]:
    """The request's banned words that occur in ``text``, as the request wrote them.

    Case-insensitive and NFKC-normalized; whole words for Latin script, substrings
    for Chinese; ``word*`` matches any word starting with ``word``.
    """
    index: PhraseIndex[str] = PhraseIndex()
    for word in banned_words:
        if word and word.strip():
            index.add(word, word)
    return list(dict.fromkeys(m.value for m in index.find(text))) if len(index) else []


def primary_language(locale: str | None) -> str:
    """``zh-CN`` / ``zh_Hant`` -> ``zh``; ``en-US`` -> ``en``; blank -> ``""``."""
    if not locale:
        return ""
    return re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()


def has_certification(product: Product) -> bool:
    """Whether the product data (text, tags, attribute keys and values) names a certification."""
    texts: list[str] = [product.title, product.description, *product.tags]

    def walk(value: object) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                texts.append(str(k))
                walk(v)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                walk(v)
        elif value is not None and not isinstance(value, bool):
            texts.append(str(value))

    walk(product.attributes)
    return any(m.value is not None for t in texts if t for m in _CERT_INDEX.find(t))


def parse_term_list(raw: str | None) -> tuple[str, ...]:
    """A configured term list: a JSON array of strings, or terms separated by commas, 、 or newlines."""
    if raw is None or not raw.strip():
        return ()
    raw = raw.strip()
    if raw.startswith("["):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON array of strings: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
            raise ValueError("not a JSON array of strings")
        return tuple(t.strip() for t in data if t.strip())
    return tuple(t.strip() for t in re.split(r"[,，、\n]", normalize(raw)) if t.strip())



def compliance_rules(
    locale: str | None,
    *,
    mode: str = "default",
    extra_terms: Mapping[str, Sequence[str]] | None = None,
) -> ComplianceRules:
    """The rules for one request's locale from settings: ``mode`` and per-language extras (``"*"`` = all).

    :raises ValueError: unknown ``mode``.
    """
    if mode not in COMPLIANCE_MODES:
        raise ValueError(f"{ENV_MODE}: unknown mode {mode!r}; known: {', '.join(COMPLIANCE_MODES)}")
    lang = primary_language(locale)
    rules = ComplianceRules.default(lang) if mode == "default" else ComplianceRules.off(lang)
    added: list[str] = []
    for key, terms in (extra_terms or {}).items():
        if key == "*" or (lang and primary_language(key) == lang):
            added.extend(terms)
    return rules.extended(added) if added else rules


def text_languages(text: str, language: str | None) -> list[str]:
    """The languages whose rules apply to ``text`` copy asked for in ``language``: that language first, then the
    language of every script the text holds (Han: zh; Latin letters: ``language`` when it is written in Latin
    letters, else en). English copy carrying "全网最低价" is checked against the zh list too."""
    lang = primary_language(language)
    out = [lang] if lang else []
    for script in sorted(scripts_in(text)):
        code = script if script != "latin" else (lang if lang and lang not in ("zh", "ja", "ko") else "en")
        if code not in out:
            out.append(code)
    return out


class ComplianceBook:
    """The compliance rules of every language, from settings, merged per combination of languages on first use.

    :meth:`for_text` is what the copy checks call: the rules for the scripts a text is written in, not only for
    the language that was asked for.
    """

    def __init__(self, mode: str = "default", extra_terms: Mapping[str, Sequence[str]] | None = None) -> None:
        if mode not in COMPLIANCE_MODES:
            raise ValueError(f"{ENV_MODE}: unknown mode {mode!r}; known: {', '.join(COMPLIANCE_MODES)}")
        self.mode = mode
        self.extra_terms = {k: tuple(v) for k, v in (extra_terms or {}).items()}
        self._rules: dict[tuple[str, ...], ComplianceRules] = {}

    def rules(self, languages: Sequence[str]) -> ComplianceRules:
        """The rules of ``languages`` merged (the first one names the result); built once per combination."""
        key = tuple(languages) or ("",)
        rules = self._rules.get(key)
        if rules is None:  # a race builds the same value twice; harmless
            parts = [compliance_rules(code, mode=self.mode, extra_terms=self.extra_terms) for code in key]
            rules = parts[0].merged(parts[1:]) if len(parts) > 1 else parts[0]
            self._rules[key] = rules
        return rules

    def for_text(self, text: str, language: str | None) -> ComplianceRules:
        return self.rules(text_languages(text, language))

