"""Find known phrases in text: the one phrase matcher, for shopper queries and for marketing copy.

Rules (shared by query understanding's brand and category words and by copy's banned words,
compliance lists, certification markers and keywords):

- Text and phrases are NFKC-normalized (full-width ``ＢＥＳＴ`` is ``BEST``, ``％`` is ``%``) and
  compared case-insensitively. Match positions are offsets into the normalized text.
- Words of space-separated scripts match whole: ``best`` does not hit ``bestow``, ``#1`` does not hit
  ``#10``. Han and kana have no word boundaries: their characters match as a substring, so
  ``耐克`` is found in ``买耐克跑鞋`` and ``Nike`` in ``耐克Nike跑鞋``.
- Spaces and hyphens inside a phrase match any run of spaces and hyphens: ``eco-friendly`` finds
  ``eco friendly``; with ``run_together=True`` (the default) also none, ``ecofriendly``. Characters
  written together in a phrase must be together in the text (``羽绒服`` is not ``羽绒 服``, ``No.1``
  is not ``No. 1``).
- With ``punctuation="ignore"`` (shopper text) other punctuation is a space too, in phrases and in
  text: ``Levi's`` finds ``levi's``, ``levi’s`` and ``levis``; ``Dr. Martens`` finds ``dr martens``.
  With ``"literal"`` (copy lists) it must be written as listed: ``100%``, ``NO.1``.
- ``stemmed=True`` folds English plurals on both sides (``Power Banks`` finds ``power bank``).
- A trailing ``*`` makes the last word a prefix: ``cheap*`` finds ``cheaper``.
- :meth:`PhraseIndex.find` returns non-overlapping matches, leftmost first and the longest there;
  a phrase added earlier wins a tie (add exceptions first and they shadow the terms inside them:
  ``最近`` hides ``最``). :meth:`PhraseIndex.find_all` returns every match, overlapping.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Generic, Literal, NamedTuple, TypeVar

from service.text.script import HAN_CHARS, KANA_CHARS, has_han

V = TypeVar("V")
Punctuation = Literal["literal", "ignore"]

_NO_SPACE = HAN_CHARS + KANA_CHARS
# A word of a space-separated script, one Han/kana character, or (literal mode) one other visible character.
_TOKENS: dict[str, re.Pattern[str]] = {
    "literal": re.compile(rf"(?P<w>[^\W_{_NO_SPACE}]+)|[^\s\-]"),
    "ignore": re.compile(rf"(?P<w>[^\W_{_NO_SPACE}]+)|[{_NO_SPACE}]"),
}
# The same tokens without spans: a cheap first look that most texts do not get past.
_WORDS: dict[str, re.Pattern[str]] = {
    "literal": re.compile(rf"[^\W_{_NO_SPACE}]+|[^\s\-]"),
    "ignore": re.compile(rf"[^\W_{_NO_SPACE}]+|[{_NO_SPACE}]"),
}
_NO_STEM_ENDINGS = ("ss", "us", "is")
_MAX_JOINS = 6  # "a b c d e f g": at most 2**6 spellings with words run together


def normalize(text: str) -> str:
    """NFKC, the form every comparison here uses (and match positions refer to)."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=8192)
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
    """A name as shopper text compares it: lowercased if it holds Han, else its words (punctuation ignored)."""
    low = normalize(phrase).strip().lower()
    if not low:
        return None
    if has_han(low):
        return low
    words = [m.group() for m in _TOKENS["ignore"].finditer(low) if m.group("w")]
    if not words:
        return None
    return tuple(stem(w) for w in words) if stemmed else tuple(words)


@dataclass(frozen=True)
class PhraseMatch(Generic[V]):
    """One place a phrase was found: ``[start, end)`` in the normalized text, and the phrase's value."""

    start: int
    end: int
    value: V


@dataclass(frozen=True)
class _Entry(Generic[V]):
    tokens: tuple[str, ...]
    touching: tuple[int, ...]  # token positions that must touch the token before them
    prefix: bool  # the last token is a prefix of the text's token
    value: V


class _Tokens(NamedTuple):
    """One text, tokenized: each token's text (lowercased, maybe stemmed), span, and whether it is a word."""

    words: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    is_word: tuple[bool, ...]

    def touches(self, i: int) -> bool:
        """Token ``i`` starts where token ``i - 1`` ends."""
        return self.starts[i] == self.ends[i - 1]

    def fits(self, at: int, entry: _Entry[object]) -> bool:
        return all(self.starts[at + j] == self.ends[at + j - 1] for j in entry.touching)


@lru_cache(maxsize=256)
def _tokenize(text: str, punctuation: Punctuation, stemmed: bool) -> _Tokens:
    """Tokens of ``text`` (already normalized and lowercased). Cached: one text is often scanned by several indexes."""
    if stemmed:
        raw = _tokenize(text, punctuation, False)
        words = tuple([stem(w) if is_word else w for w, is_word in zip(raw.words, raw.is_word)])
        return _Tokens(words, raw.starts, raw.ends, raw.is_word)
    found = [(m.group(), m.start(), m.end(), m.lastgroup == "w") for m in _TOKENS[punctuation].finditer(text)]
    if not found:
        return _EMPTY
    words, starts, ends, is_word = zip(*found)
    return _Tokens(words, starts, ends, is_word)


_EMPTY = _Tokens((), (), (), ())


@lru_cache(maxsize=256)
def _words(text: str, punctuation: Punctuation, stemmed: bool) -> frozenset[str]:
    """The distinct tokens of ``text``: enough to tell whether any phrase can start in it."""
    words = _WORDS[punctuation].findall(text)
    return frozenset([stem(w) for w in words] if stemmed else words)


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)  # keep offsets ("İ" lowercases to two)


class PhraseIndex(Generic[V]):
    """Phrases with a value each, found in free text by the rules in the module docstring.

    Built once, then :meth:`find` is cheap (one tokenization, a dictionary lookup per token) and
    thread-safe.
    """

    def __init__(
        self, *, stemmed: bool = False, punctuation: Punctuation = "literal", run_together: bool = True
    ) -> None:
        self._stemmed = stemmed
        self._run_together = run_together
        self._punctuation: Punctuation = punctuation
        self._exact: dict[tuple[str, ...], list[_Entry[V]]] = {}
        self._longest: dict[str, int] = {}  # first token -> most tokens of a phrase starting with it
        self._prefixed: dict[str, list[_Entry[V]]] = {}  # first character -> prefix phrases
        self._keys: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, phrase: str) -> Hashable | None:
        """How the index files ``phrase`` (None for a blank one): phrases with one key find the same text."""
        spellings = self._spellings(phrase)
        return spellings[0] if spellings else None

    def add(self, phrase: str, value: V) -> bool:
        """Index ``phrase``; the first value added for a phrase is kept. False if it was not added."""
        spellings = self._spellings(phrase)
        if not spellings or spellings[0] in self._keys:
            return False
        self._keys.add(spellings[0])
        for tokens, touching, prefix in spellings:
            entry = _Entry(tokens, touching, prefix, value)
            if prefix:
                self._prefixed.setdefault(tokens[0][0], []).append(entry)
            else:
                self._exact.setdefault(tokens, []).append(entry)
                self._longest[tokens[0]] = max(self._longest.get(tokens[0], 0), len(tokens))
        return True

    def find_all(self, text: str) -> list[PhraseMatch[V]]:
        """Every match in ``text``, overlapping ones included, by start then length (longest first)."""
        return self._scan(text, every=True)

    def find(self, text: str) -> list[PhraseMatch[V]]:
        """Non-overlapping matches in ``text``, leftmost-longest, in text order."""
        return self._scan(text, every=False)

    def _scan(self, text: str, *, every: bool) -> list[PhraseMatch[V]]:
        """Matches by start, longest first: all of them, or (``every=False``) the leftmost-longest ones."""
        low = _lower(normalize(text))
        longest, exact, prefixed = self._longest, self._exact, self._prefixed
        if not prefixed and longest.keys().isdisjoint(_words(low, self._punctuation, self._stemmed)):
            return []
        toks = _tokenize(low, self._punctuation, self._stemmed)
        words, starts, ends = toks.words, toks.starts, toks.ends
        n_words = len(words)
        found: list[PhraseMatch[V]] = []
        here: list[tuple[int, V]] = []  # (last token, value) of the matches starting at one token
        taken_to = -1  # find(): where the last chosen match ends
        candidates = range(n_words) if prefixed else [i for i, w in enumerate(words) if w in longest]
        for i in candidates:
            if starts[i] < taken_to:
                continue
            word = words[i]
            most = longest.get(word)
            if most is not None:
                for n in range(min(most, n_words - i), 0, -1):
                    for entry in exact.get(words[i : i + n], ()):
                        if toks.fits(i, entry):
                            here.append((i + n - 1, entry.value))
                            break
                    if here and not every:
                        break
            if prefixed:
                for entry in prefixed.get(word[0], ()):
                    n = len(entry.tokens)
                    if (
                        i + n <= n_words
                        and words[i + n - 1].startswith(entry.tokens[-1])
                        and all(words[i + j] == entry.tokens[j] for j in range(n - 1))
                        and toks.fits(i, entry)
                    ):
                        here.append((i + n - 1, entry.value))
            if not here:
                continue
            if len(here) > 1:
                here.sort(key=lambda hit: -ends[hit[0]])  # stable: an earlier phrase wins a tie
            if every:
                found.extend(PhraseMatch(starts[i], ends[last], value) for last, value in here)
            else:
                last, value = here[0]
                found.append(PhraseMatch(starts[i], ends[last], value))
                taken_to = ends[last]
            here = []
        return found

    def _spellings(self, phrase: str) -> list[tuple[tuple[str, ...], tuple[int, ...], bool]]:
        """The token sequences ``phrase`` matches: as written, then with spaced words run together."""
        text = _lower(normalize(phrase)).strip()
        prefix = text.endswith("*")
        text = text.rstrip("*").strip()
        toks = _tokenize(text, self._punctuation, False)
        if not toks.words:
            return []
        words, is_word = toks.words, toks.is_word
        # Where two words are spaced apart in the phrase they may be run together in the text.
        joinable = [j for j in range(1, len(words)) if not toks.touches(j) and is_word[j - 1] and is_word[j]]
        if not self._run_together or len(joinable) > _MAX_JOINS:
            joinable = []
        out = []
        for joins in product((False, True), repeat=len(joinable)):
            joined = {j for j, join in zip(joinable, joins) if join}
            tokens: list[str] = []
            touching: list[int] = []
            for j, word in enumerate(words):
                if j in joined:
                    tokens[-1] += word
                    continue
                if j and toks.touches(j):
                    touching.append(len(tokens))
                tokens.append(word)
            last = len(tokens) - 1
            if self._stemmed:
                tokens = [stem(t) if (not prefix or k < last) else t for k, t in enumerate(tokens)]
            out.append((tuple(tokens), tuple(touching), prefix))
        return out


def leftmost_longest(matches: Iterable[PhraseMatch[V]]) -> list[PhraseMatch[V]]:
    """Non-overlapping matches: the leftmost, the longest there, the earlier one on a tie; in text order."""
    ordered = sorted(matches, key=lambda m: (m.start, m.start - m.end))
    kept: list[PhraseMatch[V]] = []
    last_end = -1
    for match in ordered:
        if match.start >= last_end:
            kept.append(match)
            last_end = match.end
    return kept
