"""Finding listed words and phrases in copy: the matching rules banned words, compliance and keywords share.

- Text and terms are NFKC-normalized (full-width ``ＢＥＳＴ`` is ``BEST``, ``％`` is ``%``)
  and compared case-insensitively.
- A term that starts (ends) with a Latin letter or digit must not be glued to
  another Latin letter or digit on that side, so ``best`` does not hit ``bestow``
  and ``#1`` does not hit ``#10``. CJK has no word boundaries: a Chinese term
  matches as a substring.
- Spaces and hyphens inside a term match any run of spaces and hyphens, or none:
  ``eco-friendly`` finds ``eco friendly`` and ``ecofriendly``.
- A trailing ``*`` makes a prefix term: ``cheap*`` finds ``cheaper``.
- Matches are leftmost-longest and do not overlap; an *exception* (``最近``) that
  wins a position hides the shorter term inside it (``最``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_WORD = "0-9A-Za-z\u00c0-\u024f"


def normalize(text: str) -> str:
    """NFKC, the form every comparison here uses."""
    return unicodedata.normalize("NFKC", text)


def term_pattern(term: str, *, right_boundary: bool = True) -> re.Pattern[str] | None:
    """The compiled pattern of one term (None for a blank term)."""
    term = normalize(term).strip()
    prefix = term.endswith("*")
    term = term.rstrip("*").strip()
    if not term:
        return None
    pieces = [re.escape(p) for p in re.split(r"[\s\-]+", term) if p]
    body = r"[\s\-]*".join(pieces)
    if re.match(f"[{_WORD}]", term[0]):
        body = f"(?<![{_WORD}])" + body
    if prefix:
        body += f"[{_WORD}]*"
    elif right_boundary and re.match(f"[{_WORD}]", term[-1]):
        body += f"(?![{_WORD}])"
    return re.compile(body, re.IGNORECASE)


@dataclass(frozen=True)
class TermMatch:
    """One place a term was found; ``found`` is the normalized text it matched."""

    term: str
    found: str
    start: int
    end: int
    exception: bool = False


@dataclass(frozen=True)
class TermMatcher:
    """Finds a fixed list of terms (and exceptions that shadow them) in text."""

    terms: tuple[str, ...]
    exceptions: tuple[str, ...] = ()
    right_boundary: bool = True

    def __post_init__(self) -> None:
        compiled: list[tuple[str, re.Pattern[str], bool]] = []
        for term, is_exception in [(t, False) for t in self.terms] + [(e, True) for e in self.exceptions]:
            pattern = term_pattern(term, right_boundary=self.right_boundary)
            if pattern is not None:
                compiled.append((term, pattern, is_exception))
        object.__setattr__(self, "_compiled", tuple(compiled))

    def matches(self, text: str, extra_exceptions: Iterable[str] = ()) -> list[TermMatch]:
        """Leftmost-longest, non-overlapping matches in ``text``, exceptions included.

        ``extra_exceptions`` shadow terms for this call only (compiled per call: keep them few).
        """
        norm = normalize(text)
        found: list[TermMatch] = []
        extra = []
        for word in extra_exceptions:
            pattern = term_pattern(word, right_boundary=self.right_boundary)
            if pattern is not None:
                extra.append((word, pattern, True))
        for term, pattern, is_exception in (*self._compiled, *extra):  # type: ignore[attr-defined]
            for m in pattern.finditer(norm):
                if m.end() > m.start():
                    found.append(TermMatch(term, m.group(0), m.start(), m.end(), is_exception))
        found.sort(key=lambda t: (t.start, -(t.end - t.start), t.exception is False))
        chosen: list[TermMatch] = []
        last_end = -1
        for match in found:
            if match.start >= last_end:
                chosen.append(match)
                last_end = match.end
        return chosen

    def hits(self, text: str) -> list[str]:
        """The terms found in ``text`` (exceptions left out), each once, in order of first appearance."""
        return dedupe(m.term for m in self.matches(text) if not m.exception)


def dedupe(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, first appearance kept."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def find_banned(text: str, banned_words: Sequence[str]) -> list[str]:
    """The request's banned words that occur in ``text``, as the request wrote them.

    Case-insensitive and NFKC-normalized; whole words for Latin script, substrings
    for Chinese; ``word*`` matches any word starting with ``word``.
    """
    words = tuple(w for w in banned_words if w and w.strip())
    if not words:
        return []
    return TermMatcher(words).hits(text)
