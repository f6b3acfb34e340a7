"""Find known phrases in shopper text: whole words for Latin script, substrings for CJK; longest match wins."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")

_TOKEN = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NO_STEM_ENDINGS = ("ss", "us", "is")


def has_cjk(text: str) -> bool:
    """True if ``text`` holds a CJK ideograph."""
    return _CJK.search(text) is not None


def stem(token: str) -> str:
    """A light English plural folding ("shoes" -> "shoe", "batteries" -> "battery"), enough to match catalog names."""
    if len(token) < 3 or token.endswith(_NO_STEM_ENDINGS):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("ches", "shes", "sses", "xes")):
        return token[:-2]
    if token.endswith("s"):
        return token[:-1]
    return token


def phrase_key(phrase: str, *, stemmed: bool) -> Hashable | None:
    """How ``phrase`` is looked up: a tuple of Latin tokens, or the lowercased string if it holds CJK."""
    low = phrase.strip().lower()
    if not low:
        return None
    if has_cjk(low):
        return low
    tokens = _TOKEN.findall(low)
    if not tokens:
        return None
    return tuple(stem(t) for t in tokens) if stemmed else tuple(tokens)


@dataclass(frozen=True)
class PhraseMatch(Generic[V]):
    start: int
    end: int
    value: V


class PhraseIndex(Generic[V]):
    """A dictionary of phrases to values, searchable in free text.

    Latin phrases match whole tokens (``[a-z0-9]+``, case-insensitive, optionally plural-folded);
    phrases holding CJK match as substrings. Overlapping matches resolve to the longest.
    """

    def __init__(self, *, stemmed: bool = False) -> None:
        self._stemmed = stemmed
        self._latin: dict[tuple[str, ...], V] = {}
        self._latin_starts: set[str] = set()
        self._latin_longest = 0
        self._cjk: dict[str, list[tuple[str, V]]] = {}
        self._cjk_firsts: re.Pattern[str] | None = None  # where a CJK phrase may start; built on first use

    def __len__(self) -> int:
        return len(self._latin) + sum(len(v) for v in self._cjk.values())

    def add(self, phrase: str, value: V) -> bool:
        """Index ``phrase``; the first value added for a phrase is kept. False if it was not added."""
        key = phrase_key(phrase, stemmed=self._stemmed)
        if key is None:
            return False
        if isinstance(key, str):
            bucket = self._cjk.setdefault(key[0], [])
            if any(existing == key for existing, _ in bucket):
                return False
            bucket.append((key, value))
            bucket.sort(key=lambda item: -len(item[0]))
            self._cjk_firsts = None
            return True
        if key in self._latin:
            return False
        self._latin[key] = value
        self._latin_starts.add(key[0])
        self._latin_longest = max(self._latin_longest, len(key))
        return True

    def find(self, text: str) -> list[PhraseMatch[V]]:
        """Non-overlapping matches in ``text`` (longest first, then leftmost), in text order."""
        low = text.lower()
        found: list[PhraseMatch[V]] = []
        if self._latin:
            tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(low)]
            words = [stem(t) if self._stemmed else t for _, _, t in tokens]
            for i, word in enumerate(words):
                if word not in self._latin_starts:
                    continue
                for n in range(min(self._latin_longest, len(words) - i), 0, -1):
                    value = self._latin.get(tuple(words[i : i + n]))
                    if value is not None:
                        found.append(PhraseMatch(tokens[i][0], tokens[i + n - 1][1], value))
                        break
        if self._cjk:
            if self._cjk_firsts is None:  # a benign race: every thread builds the same pattern
                self._cjk_firsts = re.compile("[" + "".join(re.escape(ch) for ch in self._cjk) + "]")
            for first in self._cjk_firsts.finditer(low):
                i = first.start()
                for phrase, value in self._cjk[first.group()]:
                    if low.startswith(phrase, i):
                        found.append(PhraseMatch(i, i + len(phrase), value))
                        break
        if len(found) < 2:
            return found
        found.sort(key=lambda m: (m.start - m.end, m.start))
        kept: list[PhraseMatch[V]] = []
        for match in found:
            if all(match.end <= k.start or match.start >= k.end for k in kept):
                kept.append(match)
        kept.sort(key=lambda m: m.start)
        return kept
