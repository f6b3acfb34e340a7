"""The bilingual (Chinese + English) analyzer that turns product text and queries into index terms."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import jieba
import Stemmer

from service.retrieve.stopwords import CHINESE_STOPWORDS, ECOMMERCE_WORDS, ENGLISH_STOPWORDS
from service.text.script import HAN_CHARS

# Bump when the analysis changes in a way the word lists do not capture: persisted indexes key on it.
ANALYZER_VERSION = "1"

_CJK = HAN_CHARS
# A run of Han characters (segmented by jieba), a run of letters of any other script
# (apostrophes inside kept so the stemmer can strip possessives), or a number (decimals kept).
_TOKEN_RE = re.compile(rf"(?P<han>[{_CJK}]+)|(?P<word>[^\W\d_{_CJK}]+(?:'[^\W\d_{_CJK}]+)*)|(?P<num>\d+(?:\.\d+)?)")
_CACHE_SIZE = 1 << 16
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class Term(NamedTuple):
    """A query term: the index term it becomes and the word the shopper wrote."""

    term: str
    surface: str


class Analyzer:
    """Normalizes (NFKC, full-width to half-width, case-folded), segments Chinese with jieba's search mode,
    stems English with Snowball, drops stopwords, keeps numbers.

    jieba's dictionary loads lazily on first use (about 1 s; its cache file goes to ``cache_dir``, default
    the system temp dir). One instance is safe to share between threads.
    """

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        english_stopwords: Iterable[str] = ENGLISH_STOPWORDS,
        chinese_stopwords: Iterable[str] = CHINESE_STOPWORDS,
        user_words: Iterable[str] = ECOMMERCE_WORDS,
        hmm: bool = True,
    ) -> None:
        self._english_stop = frozenset(english_stopwords)
        self._chinese_stop = frozenset(chinese_stopwords)
        self._user_words = tuple(user_words)
        self._hmm = hmm
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._jieba: jieba.Tokenizer | None = None
        self._jieba_lock = threading.Lock()
        # PyStemmer objects are not thread-safe; one per thread.
        self._local = threading.local()
        self.fingerprint = self._fingerprint()
        # Product text repeats phrases and words a lot; per-instance caches (not module state) skip re-analysis.
        self._han = functools.lru_cache(maxsize=_CACHE_SIZE)(self._segment_han)
        self._word = functools.lru_cache(maxsize=_CACHE_SIZE)(self._stem_word)

    def _fingerprint(self) -> str:
        spec = {
            "version": ANALYZER_VERSION,
            "jieba": getattr(jieba, "__version__", "?"),
            "english": sorted(self._english_stop),
            "chinese": sorted(self._chinese_stop),
            "user_words": list(self._user_words),
            "hmm": self._hmm,
            "stemmer": "english",
        }
        return hashlib.sha256(json.dumps(spec, ensure_ascii=False).encode()).hexdigest()[:12]

    def warm_up(self) -> None:
        """Load jieba's dictionary now rather than on the first Chinese text."""
        self._segmenter()

    def _segmenter(self) -> jieba.Tokenizer:
        segmenter = self._jieba
        if segmenter is not None:
            return segmenter
        with self._jieba_lock:
            if self._jieba is None:
                # jieba attaches a DEBUG stderr handler at import and chats on every dictionary load.
                logging.getLogger("jieba").setLevel(logging.WARNING)
                segmenter = jieba.Tokenizer()
                if self._cache_dir is not None:
                    self._cache_dir.mkdir(parents=True, exist_ok=True)
                    segmenter.tmp_dir = str(self._cache_dir)
                segmenter.initialize()
                for word in self._user_words:
                    segmenter.add_word(word)
                self._jieba = segmenter
            return self._jieba

    def _stemmer(self) -> Stemmer.Stemmer:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = Stemmer.Stemmer("english")
        return stemmer

    @staticmethod
    def normalize(text: str) -> str:
        """NFKC (full-width letters, digits and punctuation become half-width), case-folded, curly quotes straight."""
        return unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)

    def terms(self, text: str) -> list[Term]:
        """Every index term of ``text`` in order (repeats kept), each with the word it came from."""
        out: list[Term] = []
        for match in _TOKEN_RE.finditer(self.normalize(text)):
            kind = match.lastgroup
            piece = match.group()
            if kind == "han":
                out.extend(self._han(piece))
            elif kind == "word":
                stem = self._word(piece)
                if stem is not None:
                    out.append(Term(stem, piece))
            else:
                out.append(Term(piece, piece))
        return out

    def _segment_han(self, run: str) -> tuple[Term, ...]:
        words = self._segmenter().cut_for_search(run, HMM=self._hmm)
        return tuple(Term(w, w) for w in words if w not in self._chinese_stop)

    def _stem_word(self, word: str) -> str | None:
        if word in self._english_stop:
            return None
        stem = self._stemmer().stemWord(word)
        return stem if stem and stem not in self._english_stop else None

    def tokens(self, text: str) -> list[str]:
        """The index terms of ``text`` in order, repeats kept (what documents are indexed with)."""
        return [t.term for t in self.terms(text)]

    def query_terms(self, query: str) -> list[Term]:
        """The distinct index terms of a query, first occurrence first."""
        seen: set[str] = set()
        out: list[Term] = []
        for t in self.terms(query):
            if t.term not in seen:
                seen.add(t.term)
                out.append(t)
        return out
