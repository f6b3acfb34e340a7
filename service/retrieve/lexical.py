"""Field-weighted BM25 over the catalog (bm25s), with hard filters and a persisted, content-keyed index.

Field weighting repeats a field's terms ``weight`` times in one document. With integer weights that is
BM25F with one shared length normalization: a term's weighted frequency across fields saturates once
(k1), and IDF counts each product once. Summing separate per-field BM25 scores would instead reward a
term once per field it appears in, and costs one scoring pass per field (see bench/retrieval.py).

Scoring uses bm25s's numpy backend over the whole catalog, then masks by the filters, so a filter never
hides the next-best matches. Products that match no query term are never returned: a query with no
matching terms gives an empty list (the caller answers "nothing to recommend" rather than guessing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.errors import CatalogError
from service.retrieve.base import Candidate
from service.retrieve.filters import FilterMask
from service.retrieve.persist import load_or_build_dir
from service.retrieve.tokenize import Analyzer, Term
from service.validate.recommend import Filters

# Bump when the saved layout or the way documents are built changes.
INDEX_FORMAT = "2"
_META = "meta.json"
_BM25_DIR = "bm25"
_NAMES = "names.npz"


@dataclass(frozen=True)
class FieldWeights:
    """How many times each field's terms count (whole numbers; 0 leaves a field out)."""

    title: int = 3
    brand: int = 2
    category: int = 2
    tags: int = 2
    attributes: int = 1
    description: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"field weight {name} must be a whole number >= 0, got {value!r}")


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.6  # tuned: docs/quality.md (bm25s default 0.75)
    method: str = "lucene"


class _FieldTerms:
    """Builds a product's weighted term list; memoizes short repeated fields (brands, categories, tags)."""

    def __init__(self, analyzer: Analyzer, weights: FieldWeights) -> None:
        self._analyzer = analyzer
        self._weights = weights
        self._memo: dict[str, list[str]] = {}

    def _short(self, text: str) -> list[str]:
        tokens = self._memo.get(text)
        if tokens is None:
            tokens = self._memo[text] = self._analyzer.tokens(text)
        return tokens

    def __call__(self, product: Product) -> list[str]:
        w = self._weights
        out: list[str] = []
        if w.title:
            out += self._analyzer.tokens(product.title) * w.title
        if w.brand and product.brand:
            out += self._short(product.brand) * w.brand
        if w.category and product.category:
            out += [t for segment in product.category.split("/") for t in self._short(segment)] * w.category
        if w.tags and product.tags:
            out += [t for tag in product.tags for t in self._short(tag)] * w.tags
        if w.attributes and product.attributes:
            out += [t for text in _attribute_texts(product.attributes) for t in self._short(text)] * w.attributes
        if w.description and product.description:
            out += self._analyzer.tokens(product.description) * w.description
        return out

    def name_terms(self, product: Product) -> list[str]:
        """What the product is: its title, category segments and tags (no description, no attributes)."""
        out = self._analyzer.tokens(product.title)
        if product.category:
            out += [t for segment in product.category.split("/") for t in self._short(segment)]
        out += [t for tag in product.tags for t in self._short(tag)]
        return out


class NamePostings:
    """Which products' names (title, category, tags) hold each term: for leaving out what the shopper ruled out.

    Kept apart from the BM25 matrix so a phrase ruled out ("not a rain jacket") is matched against what a
    product *is*, not against a description that merely mentions rain.
    """

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, indices: np.ndarray, size: int) -> None:
        self._vocab = vocab
        self._indptr = indptr
        self._indices = indices
        self.size = size

    @classmethod
    def build(cls, products: tuple[Product, ...], field_terms: _FieldTerms) -> NamePostings:
        postings: dict[str, list[int]] = {}
        for position, product in enumerate(products):
            for term in set(field_terms.name_terms(product)):
                postings.setdefault(term, []).append(position)
        vocab = {term: i for i, term in enumerate(postings)}
        lengths = np.fromiter((len(v) for v in postings.values()), dtype=np.int64, count=len(postings))
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.fromiter((p for v in postings.values() for p in v), dtype=np.int32, count=int(indptr[-1]))
        return cls(vocab, indptr, indices, len(products))

    def save(self, path: Path) -> None:
        np.savez(path, indptr=self._indptr, indices=self._indices, vocab=np.array(list(self._vocab), dtype=object))

    @classmethod
    def load(cls, path: Path, size: int) -> NamePostings:
        with np.load(path, allow_pickle=True) as data:
            vocab = {str(term): i for i, term in enumerate(data["vocab"].tolist())}
            return cls(vocab, data["indptr"], data["indices"], size)

    def holding_all(self, terms: list[str]) -> np.ndarray:
        """Positions of products whose name holds every one of ``terms``."""
        if not terms or any(t not in self._vocab for t in terms):
            return np.empty(0, dtype=np.int32)
        lists = [self._indices[self._indptr[i] : self._indptr[i + 1]] for i in (self._vocab[t] for t in terms)]
        hits = lists[0]
        for other in lists[1:]:
            hits = np.intersect1d(hits, other, assume_unique=True)
        return hits


def _attribute_texts(attributes: dict[str, Any]) -> Iterator[str]:
    """Keys and values as text; a false flag contributes nothing (``waterproof: false`` is not waterproof)."""
    for key, value in attributes.items():
        if value is False or value is None or value == "" or value == [] or value == {}:
            continue
        yield str(key)
        if value is True:
            continue
        if isinstance(value, dict):
            yield from _attribute_texts(value)
        elif isinstance(value, (list, tuple)):
            yield from (str(v) for v in value if v not in (None, False, ""))
        else:
            yield str(value)


def index_fingerprint(analyzer: Analyzer, weights: FieldWeights, params: BM25Params) -> str:
    """What, besides the catalog, decides the index's content."""
    spec = {
        "format": INDEX_FORMAT,
        "analyzer": analyzer.fingerprint,
        "weights": asdict(weights),
        "bm25": asdict(params),
        "bm25s": bm25s.__version__,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def index_key(catalog: Catalog, analyzer: Analyzer, weights: FieldWeights, params: BM25Params) -> str:
    """The index directory's name: catalog content hash plus analyzer/weights/BM25 fingerprint."""
    return f"lexical-{catalog.version}-{index_fingerprint(analyzer, weights, params)}"


class LexicalIndex:
    """A catalog's field-weighted BM25 index. Implements :class:`~service.retrieve.base.Retriever`.

    Build with :meth:`build`, or :func:`load_or_build` to reuse a persisted one.
    """

    def __init__(
        self,
        catalog: Catalog,
        analyzer: Analyzer,
        weights: FieldWeights,
        params: BM25Params,
        bm25: bm25s.BM25,
        names: NamePostings,
    ) -> None:
        self.catalog = catalog
        self.products = catalog.products
        self.analyzer = analyzer
        self.weights = weights
        self.params = params
        self.filters = FilterMask(catalog.products)
        self.fingerprint = index_fingerprint(analyzer, weights, params)
        self._bm25 = bm25
        self._names = names
        self._position_of = {p.id: i for i, p in enumerate(catalog.products)}
        _sort_postings(bm25)
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._indptr: np.ndarray = bm25.scores["indptr"]
        self._indices: np.ndarray = bm25.scores["indices"]

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        analyzer: Analyzer,
        weights: FieldWeights | None = None,
        params: BM25Params | None = None,
    ) -> LexicalIndex:
        """Analyze every product and build the BM25 matrix."""
        weights = weights or FieldWeights()
        params = params or BM25Params()
        field_terms = _FieldTerms(analyzer, weights)
        corpus = [field_terms(p) for p in catalog.products]
        bm25 = bm25s.BM25(k1=params.k1, b=params.b, method=params.method, backend="numpy", csc_backend="numpy")
        if not corpus:
            raise CatalogError("cannot index an empty catalog")
        # no "" placeholder term: queries never score empty, and the vocabulary then matches the matrix
        bm25.index(corpus, create_empty_token=False, show_progress=False)
        return cls(catalog, analyzer, weights, params, bm25, NamePostings.build(catalog.products, field_terms))

    def save(self, directory: str | Path) -> None:
        """Write the index into ``directory`` (created if missing). Not atomic: see :func:`load_or_build`."""
        directory = Path(directory)
        self._bm25.save(directory / _BM25_DIR, show_progress=False)
        self._names.save(directory / _NAMES)
        meta = {
            "format": INDEX_FORMAT,
            "catalog_version": self.catalog.version,
            "fingerprint": self.fingerprint,
            "analyzer": self.analyzer.fingerprint,
            "weights": asdict(self.weights),
            "bm25": asdict(self.params),
            "product_ids": [p.id for p in self.products],
        }
        (directory / _META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, catalog: Catalog, analyzer: Analyzer | None = None) -> LexicalIndex:
        """Read an index saved by :meth:`save` for this ``catalog``; weights and BM25 parameters come from the file.

        :raises FileNotFoundError: if ``directory`` holds no index.
        :raises CatalogError: if the index is unreadable or was built from another catalog or analyzer.
        """
        directory = Path(directory)
        analyzer = analyzer or Analyzer()
        meta_path = directory / _META
        if not meta_path.is_file():
            raise FileNotFoundError(f"no lexical index in {directory}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            weights = FieldWeights(**meta["weights"])
            params = BM25Params(**meta["bm25"])
            if meta["format"] != INDEX_FORMAT or meta["analyzer"] != analyzer.fingerprint:
                raise CatalogError(f"{directory}: index was built by another analyzer or format")
            if meta["catalog_version"] != catalog.version or meta["product_ids"] != [p.id for p in catalog.products]:
                raise CatalogError(f"{directory}: index was built from another catalog")
            bm25 = bm25s.BM25.load(directory / _BM25_DIR, mmap=False, show_progress=False)
            names = NamePostings.load(directory / _NAMES, len(catalog))
            if bm25.scores["num_docs"] != len(catalog) or len(bm25.scores["indptr"]) != len(bm25.vocab_dict) + 1:
                raise CatalogError(f"{directory}: index arrays do not match the catalog")
        except CatalogError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CatalogError(f"{directory}: unreadable lexical index: {exc}") from exc
        return cls(catalog, analyzer, weights, params, bm25, names)

    # -- retrieval -----------------------------------------------------------------------------

    def search(
        self, query: str, filters: Filters, n: int, *, restrict_ids: Collection[str] | None = None
    ) -> list[Candidate]:
        """Top ``n`` products that match a query term and pass ``filters``, best first (ties: catalog order).

        ``restrict_ids``: only these products may be scored and returned (applied before the top-n cut).
        """
        terms = self.known_terms(query)
        if not terms or n <= 0:
            return []
        scores = self.score(terms, self.mask(filters, restrict_ids))
        top = top_positions(scores, n)
        matched = self.matched_terms(top, terms)
        return [
            Candidate(product=self.products[pos], score=float(scores[pos]), matched_terms=words)
            for pos, words in zip(top.tolist(), matched)
        ]

    def mask(self, filters: Filters, restrict_ids: Collection[str] | None = None) -> np.ndarray | None:
        """The filters as a boolean mask over catalog positions, ruled-out phrases included; None if unconstrained.

        ``restrict_ids``: an allow-list of product ids (unknown ids are ignored).
        """
        mask = self.filters.mask(filters)
        if restrict_ids is not None:
            allowed = np.zeros(len(self.products), dtype=bool)
            allowed[self.positions(restrict_ids)] = True
            mask = allowed if mask is None else mask & allowed
        if not filters.exclude_terms:
            return mask
        ruled_out = [self._names.holding_all(self.analyzer.tokens(phrase)) for phrase in filters.exclude_terms]
        positions = np.concatenate(ruled_out) if ruled_out else np.empty(0, dtype=np.int32)
        if not len(positions):
            return mask
        keep = np.ones(len(self.products), dtype=bool) if mask is None else mask.copy()
        keep[positions] = False
        return keep

    def positions(self, ids: Collection[str]) -> np.ndarray:
        """Catalog positions of the known ids among ``ids``."""
        position_of = self._position_of
        return np.fromiter((position_of[i] for i in ids if i in position_of), dtype=np.int64)

    def term_weights(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
        """The BM25 matrix, one row per term: (vocabulary, indptr, product positions, BM25 weights).

        Read-only views for content similarity between products (:mod:`service.personalize.content`).
        """
        return self._vocab, self._indptr, self._indices, self._bm25.scores["data"]

    def known_terms(self, query: str) -> list[Term]:
        """The query's distinct terms that occur somewhere in the catalog."""
        return [t for t in self.analyzer.query_terms(query) if t.term in self._vocab]

    def score(self, terms: list[Term], mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every product (float32, catalog order); zero where ``mask`` is false or nothing matched."""
        ids = [self._vocab[t.term] for t in terms if t.term in self._vocab]
        if not ids:
            return np.zeros(len(self.products), dtype=np.float32)
        # a fresh array per call: bm25s multiplies it by the mask in place
        return self._bm25.get_scores_from_ids(ids, weight_mask=mask)

    def matched_terms(self, positions: np.ndarray, terms: list[Term]) -> list[tuple[str, ...]]:
        """For each product position, the query words (as the shopper wrote them) found in its text.

        A word inside another matched word is left out: jieba's search mode splits 羽绒服 into 羽绒 and
        羽绒服 too, and an explanation should name 羽绒服 once.
        """
        found = np.zeros((len(positions), len(terms)), dtype=bool)
        for j, term in enumerate(terms):
            token_id = self._vocab.get(term.term)
            if token_id is None:
                continue
            postings = self._indices[self._indptr[token_id] : self._indptr[token_id + 1]]
            # postings are sorted (CSC column), so a binary search per result suffices
            at = np.searchsorted(postings, positions)
            at[at == len(postings)] = 0
            found[:, j] = postings[at] == positions if len(postings) else False
        surfaces = [t.surface for t in terms]
        inside = [
            [k for k, other in enumerate(surfaces) if k != j and word in other] for j, word in enumerate(surfaces)
        ]
        return [
            tuple(word for j, word in enumerate(surfaces) if row[j] and not any(row[k] for k in inside[j]))
            for row in found.tolist()
        ]


def _sort_postings(bm25: bm25s.BM25) -> None:
    """Make each term's posting list ascending (bm25s builds them so; :meth:`matched_terms` relies on it)."""
    indices, indptr = bm25.scores["indices"], bm25.scores["indptr"]
    falls = np.flatnonzero(np.diff(indices) <= 0) + 1  # allowed only where a new term's list starts
    if np.isin(falls, indptr).all():
        return
    columns = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    order = np.lexsort((indices, columns))
    bm25.scores.update(data=bm25.scores["data"][order], indices=indices[order])


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest positive scores, best first; ties by position (stable, deterministic)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > n:
        kth = len(positive) - n
        # keep everything tied with the n-th best so the tie-break below sees all of them
        cutoff = np.partition(scores[positive], kth)[kth]
        positive = positive[scores[positive] >= cutoff]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order[:n]]


def load_or_build(
    catalog: Catalog,
    index_dir: str | Path,
    analyzer: Analyzer | None = None,
    weights: FieldWeights | None = None,
    params: BM25Params | None = None,
) -> LexicalIndex:
    """The persisted index for this catalog and analyzer under ``index_dir``, built and saved if missing.

    Safe when several processes start at once (see :func:`service.retrieve.persist.load_or_build_dir`).

    :raises OSError: if ``index_dir`` cannot be created or written.
    """
    analyzer = analyzer or Analyzer()
    weights = weights or FieldWeights()
    params = params or BM25Params()
    return load_or_build_dir(
        index_dir,
        index_key(catalog, analyzer, weights, params),
        load=lambda path: LexicalIndex.load(path, catalog, analyzer),
        build=lambda: LexicalIndex.build(catalog, analyzer, weights, params),
        save=lambda index, path: index.save(path),
    )
