"""What a shopper says they do not want: "not/no/without/except X", "不要/不想要/排除/除了/别推荐X".

X goes into ``exclude_terms`` as written. "not too X"/"不要太X" is a degree, not an exclusion (see
:mod:`.flags`); "除了X还要Y" ("besides X, also Y") excludes nothing. Which excluded terms are catalog
brands is :mod:`.catalog_terms`' job. Exclusions are advisory: :func:`service.retrieve.filters.merge_filters`
passes them on as ``exclude_terms``/``exclude_brands``, and the lexical index applies the terms.
"""

from __future__ import annotations

import re

from service.text.script import HAN_CHARS, has_han

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
    rf"|(?:(?!{_CJK_STOP})[{HAN_CHARS}0-9a-z+-])+)",
    re.IGNORECASE,
)
_ZH_MORE = re.compile(
    r"\s*(?:和|或者|或|跟|、|与|及)\s*"
    rf"(?P<obj>[a-z][a-z0-9'&+-]*|(?:(?!{_CJK_STOP})[{HAN_CHARS}0-9a-z+-])+)",
    re.IGNORECASE,
)
_ZH_NOT_AN_EXCLUSION = ("太", "很", "特别", "那么", "求", "紧", "钱", "用", "去", "看", "说", "管", "担心", "怕")
_ZH_BESIDES = re.compile(r"\s*(?:以外|之外)?\s*[,，]?\s*(?:还要|也要|还得|也得|更要|还需要|还想|也想|还能|也能|还可以)")
_ZH_MAX_CHARS = 8


def read_exclusions(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """What ``text`` rules out, as written and each once, and the spans of the phrases that ruled it out."""
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _NEG_EN.finditer(text):
        found, end = _english_object(text, m.end())
        if found:
            terms.extend(found)
            spans.append((m.start(), end))
    for m in _NEG_ZH.finditer(text):
        obj = m.group("obj").strip()
        if obj.startswith(_ZH_NOT_AN_EXCLUSION) or (has_han(obj) and len(obj) > _ZH_MAX_CHARS):
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
        spans.append((m.start(), end))
    return list(dict.fromkeys(terms)), spans


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

