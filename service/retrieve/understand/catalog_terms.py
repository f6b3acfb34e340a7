"""The catalog's own words in a query: which category path and which brand a shopper names.

Category is set only when confident, because a wrong category filter hides good products: a shopper word
maps to a catalog category through :data:`~service.retrieve.hint_words.CATEGORY_GROUPS` (or the shop's
``category_hints``), else through a catalog segment name written in the query. Only real prefixes of the
catalog's category paths are emitted. A word that names several places in the tree yields their common
prefix, or nothing when they share none; so do several category words in one query. A category word that
qualifies an accessory ("laptop bag", "手机壳", "case for laptop") or is followed by another category word
("dress shoes") does not count.

Brand: a catalog brand written in the query (whole words for Latin script, substrings for Han; known
Chinese names of catalog brands, see :data:`~service.retrieve.hint_words.DEFAULT_BRAND_ALIASES`).
Overlaps resolve to the leftmost-longest; two different brands ("sony or bose") set none (the caller's rule).

Both match through :class:`service.text.phrases.PhraseIndex` with punctuation ignored, as shoppers type it,
and words written apart (``run_together=False``): on 37k real queries running words together found
"northface" and "levis" but also put "2in1 shampoo" under laptops and "HM 500 nails" under H&M.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from service.retrieve.hint_words import (
    ACCESSORY_HEADS_CJK,
    ACCESSORY_HEADS_LATIN,
    CATEGORY_GROUPS,
    FOR_WORDS_CJK,
    FOR_WORDS_LATIN,
    GENERIC_SEGMENTS,
)
from service.text.phrases import PhraseIndex, PhraseMatch, normalize, phrase_key, stem
from service.text.script import has_han

_NEXT_LATIN_WORD = re.compile(r"[\s-]*(?:'s\s*)?([a-z]+)")
_ACCESSORY_AFTER_CJK = re.compile(rf"\s*的?(?:{'|'.join(ACCESSORY_HEADS_CJK)})")
_ADJACENT = re.compile(r"[\s-]*")
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


def _index_categories(categories: Iterable[str], hints: Mapping[str, str]) -> PhraseIndex[str]:
    """Shopper words -> catalog category paths: the shop's hints, the built-in groups, then segment names."""
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

    index: PhraseIndex[str] = PhraseIndex(stemmed=True, punctuation="ignore", run_together=False)
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
        if len(parts) < 2 or has_han(parts[-1]) or len(parts[-1].split()) > 1:
            continue
        if not _is_plural(parts[-1]):  # "Cameras/Instant" -> "instant camera"
            index.add(f"{parts[-1]} {parts[-2]}", path)
        elif stem(parts[-1].lower()) in ACCESSORY_HEADS_LATIN:  # "Phones/Cases" -> "phone case"
            index.add(f"{parts[-2]} {parts[-1]}", path)
    return index


def _index_brands(brands: Iterable[str], aliases: Mapping[str, str]) -> PhraseIndex[str]:
    """Brand names and aliases -> the brand as the catalog spells it."""
    canonical: dict[str, str] = {}
    index: PhraseIndex[str] = PhraseIndex(punctuation="ignore", run_together=False)
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


class BrandIndex:
    """The catalog's brands, and other names for them, found in shopper text."""

    def __init__(self, brands: Iterable[str], aliases: Mapping[str, str]) -> None:
        """``aliases`` maps other names to catalog brands; those pointing at no catalog brand are ignored."""
        self._index = _index_brands(brands, aliases)

    def brands_in(self, text: str) -> list[str]:
        """The catalog brands ``text`` names, in the catalog's spelling, in text order (repeats kept)."""
        return [m.value for m in self._index.find(text)]


class CategoryIndex:
    """The catalog's category tree, as shoppers name its parts."""

    def __init__(self, categories: Iterable[str], hints: Mapping[str, str]) -> None:
        """``hints`` maps shopper words to category paths and wins over the built-in groups."""
        self._index = _index_categories(categories, hints)

    def category_in(self, text: str) -> str | None:
        """The category ``text`` names (a catalog path prefix), or None when it names none or several."""
        low = normalize(text.lower())
        matches = self._index.find(low)
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
