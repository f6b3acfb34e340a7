"""The recommender shopguide serves: item-to-item, content similarity and popularity, blended per shopper.

For a shopper whose positive steps are ``h_1 .. h_m`` (oldest first, event-type weights ``w_k``),
the history vector gives step ``k`` the weight ``w_k * recency ** (m - k)`` (the last thing they did
counts most; at most ``max_history`` steps). Then, over every catalog product ``j``,

    item2item(j) = sum_k  x_k * S[h_k, j]          (co-occurrence, :mod:`~service.personalize.cooccur`)
    content(j)   = sum_k  x_k * K[h_k, j]          (title similarity, :mod:`~service.personalize.content`)
    score(j)     = a * item2item(j) / s_i2i  +  b * content(j) / s_content  +  c * popular(j)
                   + d * (history share in j's category)  +  e * (history share of j's brand)

Each matrix is scaled by a constant of its own, the median over products of their strongest
neighbour (:func:`typical_strength`), so the weights mean the same in a shop whose co-occurrence
counts are ten times larger. The scale is global, not per shopper: a shopper whose history says
little keeps low scores, and the popularity term then orders their list (scaling each shopper's
scores by their own maximum measured worse on Beauty's validation targets, docs/quality.md).
Content lets a product nobody has bought yet be found from a history of similar ones; popularity
orders the tail and serves a shopper with no history at all (trending blended in when the log has times, :mod:`~service.personalize.popular`).

A dismissed product is never returned, and the products like it are weighed down: the dismissed
products' own item2item and content rows, scaled the same way, are subtracted ``dismiss`` times.

The same :meth:`Blend.score_histories` ranks one shopper online and all of Beauty's 22k shoppers
offline (``shopguide eval next-item``), so the evaluated method is the served one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from service.catalog.load import Catalog
from service.personalize.content import ContentSimilarity
from service.personalize.contract import Affinity, Interaction
from service.personalize.cooccur import ItemToItem
from service.personalize.corpus import EventWeights, History, split_history
from service.personalize.popular import Popularity

_BECAUSE = 3  # history products named per recommendation


@dataclass(frozen=True)
class BlendParams:
    """How the parts combine (defaults tuned on Beauty's validation targets only: docs/quality.md)."""

    item2item: float = 1.0
    content: float = 1.2
    popular: float = 0.15
    recency: float = 0.6
    max_history: int = 50
    dismiss: float = 0.5
    # the share of the (recency-weighted) history in a product's category / of its brand; Beauty has neither,
    # so these two are set by hand, not tuned: a shopper of one category gets about a third of a strong neighbour
    category: float = 0.3
    brand: float = 0.3

    def __post_init__(self) -> None:
        if min(self.item2item, self.content, self.popular, self.dismiss, self.category, self.brand) < 0:
            raise ValueError("blend weights must be >= 0")
        if not 0 < self.recency <= 1 or self.max_history < 1:
            raise ValueError("recency must be in (0, 1] and max_history >= 1")


@dataclass(frozen=True)
class Parts:
    """The blend's parts for a batch of shoppers (dense rows), each matrix already divided by its scale."""

    item2item: np.ndarray
    content: np.ndarray
    dismissed: np.ndarray  # the (scaled) similarity to what each shopper dismissed; zeros when nothing was
    category: np.ndarray  # the recency-weighted share of the history in each product's category (0 without one)
    brand: np.ndarray  # the same for each product's brand



def typical_strength(matrix: sp.csr_matrix) -> float:
    """The median over products (with any neighbour) of their strongest neighbour's weight; 1 if none."""
    lengths = np.diff(matrix.indptr)
    rows = np.flatnonzero(lengths)
    if not len(rows):
        return 1.0
    maxima = np.maximum.reduceat(matrix.data, matrix.indptr[rows])
    return float(np.median(maxima)) or 1.0


class Blend:
    """Implements :class:`~service.personalize.contract.Recommender`. Immutable once built: safe to share."""

    def __init__(
        self,
        catalog: Catalog,
        item2item: ItemToItem,
        content: ContentSimilarity,
        popularity: Popularity,
        params: BlendParams | None = None,
        weights: EventWeights | None = None,
        *,
        version: str = "",
    ) -> None:
        self.catalog = catalog
        self.ids = tuple(p.id for p in catalog.products)
        self.position_of = {pid: i for i, pid in enumerate(self.ids)}
        self.item2item = item2item
        self.content = content
        self.popularity = popularity
        self.params = params or BlendParams()
        self.weights = weights or EventWeights()
        self.version = version  # the persisted model's key: what the shopper's scores were computed from
        self.in_stock = np.fromiter((p.in_stock for p in catalog.products), dtype=bool, count=len(self.ids))
        self._categories = np.array([p.category for p in catalog.products], dtype=object)
        self._category_masks: dict[str, np.ndarray] = {}
        self._category_codes, self._n_categories = _codes(p.category for p in catalog.products)
        self._brand_codes, self._n_brands = _codes(p.brand.casefold() for p in catalog.products)
        self._has_profile = self._n_categories > 1 or self._n_brands > 1
        self._lock = threading.Lock()
        self._i2i_rows = _Rows(item2item.similarity, typical_strength(item2item.similarity))
        self._content_rows = _Rows(content.similarity, typical_strength(content.similarity))
        n = len(self.ids)
        if item2item.size != n or content.similarity.shape[0] != n or len(popularity.popular) != n:
            raise ValueError("the model's parts were built for another catalog")

    # -- histories -> scores --------------------------------------------------------------------

    def history(self, interactions: Sequence[Interaction]) -> History:
        return split_history(interactions, self.position_of, self.weights)

    def step_weights(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``max_history`` positive steps and their weights ``w_k * recency ** age`` (float64)."""
        positions = history.positions[-self.params.max_history :]
        ages = np.arange(len(positions) - 1, -1, -1)
        weights = history.weights[-self.params.max_history :].astype(np.float64) * self.params.recency**ages
        return positions, weights

    def parts(self, histories: Sequence[History]) -> Parts:
        """Each shopper's item2item, content and dismissal rows: sums of the history products' matrix rows."""
        n = len(self.ids)
        item2item = np.zeros((len(histories), n))
        content = np.zeros((len(histories), n))
        penalty = np.zeros((len(histories), n))
        category = np.zeros((len(histories), n))
        brand = np.zeros((len(histories), n))
        for row, history in enumerate(histories):
            positions, weights = self.step_weights(history)
            self._i2i_rows.add_into(item2item[row], positions, weights)
            self._content_rows.add_into(content[row], positions, weights)
            if self._has_profile and len(positions):
                total = weights.sum()
                for codes, size, out in (
                    (self._category_codes, self._n_categories, category),
                    (self._brand_codes, self._n_brands, brand),
                ):
                    share = np.bincount(codes[positions], weights=weights, minlength=size) / total
                    share[0] = 0.0  # code 0: no category / no brand, which is no affinity
                    out[row] = share[codes]
            if len(history.dismissed) and self.params.dismiss > 0:
                ones = np.ones(len(history.dismissed))
                self._i2i_rows.add_into(penalty[row], history.dismissed, ones * self.params.item2item)
                self._content_rows.add_into(penalty[row], history.dismissed, ones * self.params.content)
        return Parts(item2item, content, penalty, category, brand)

    def combine(self, parts: Parts, params: BlendParams | None = None) -> np.ndarray:
        """The blend's score of every product for each shopper (before history and exclusions are removed)."""
        p = params or self.params
        scores = p.item2item * parts.item2item
        scores += p.content * parts.content
        scores += p.popular * self.popularity.popular[None, :]
        if self._has_profile:
            scores += p.category * parts.category
            scores += p.brand * parts.brand
        if parts.dismissed.any():
            scores -= p.dismiss * parts.dismissed
        return scores

    def score_histories(self, histories: Sequence[History]) -> np.ndarray:
        """Scores (shoppers x products); a shopper without positive steps scores popularity (``cold``)."""
        return self._with_cold(self.combine(self.parts(histories)), histories)

    def _with_cold(self, scores: np.ndarray, histories: Sequence[History]) -> np.ndarray:
        for row, history in enumerate(histories):
            if history.empty:
                scores[row] += self.popularity.cold()
        return scores

    # -- the Recommender contract -----------------------------------------------------------------

    def rerank(self, history: Sequence[Interaction], candidate_ids: Sequence[str]) -> dict[str, Affinity]:
        """Affinity of each candidate the shopper's positive history speaks for (none for a cold shopper).

        Computed at the candidates only (the history's matrix rows read once, for the scores and the
        explanations alike): the same values as :meth:`combine` over the whole catalog, without its
        catalog-wide vectors (at 12k products they were most of a personalized request's extra CPU).
        """
        encoded = self.history(history)
        if encoded.empty:
            return {}
        wanted = [(pid, self.position_of[pid]) for pid in dict.fromkeys(candidate_ids) if pid in self.position_of]
        if not wanted:
            return {}
        p = self.params
        targets = np.array([pos for _, pos in wanted], dtype=np.int64)
        positions, weights = self.step_weights(encoded)
        i2i_block = self._i2i_rows.entries(positions, targets)
        content_block = self._content_rows.entries(positions, targets)
        i2i = p.item2item * (weights @ i2i_block)
        content = p.content * (weights @ content_block)
        profile = self._profile_at(positions, weights, targets)
        dismissed = np.zeros(len(targets))
        if len(encoded.dismissed) and p.dismiss > 0:
            ones = np.ones(len(encoded.dismissed))
            dismissed = p.item2item * (ones @ self._i2i_rows.entries(encoded.dismissed, targets))
            dismissed += p.content * (ones @ self._content_rows.entries(encoded.dismissed, targets))
        scores = i2i + content + p.popular * self.popularity.popular[targets] + profile - p.dismiss * dismissed
        found = np.flatnonzero((i2i + content + profile > 0) | (dismissed > 0))
        if not len(found):
            return {}
        because = self._named(
            positions, weights, i2i_block[:, found], content_block[:, found], targets[found]
        )
        out = {}
        for i, col in enumerate(found.tolist()):
            pid = wanted[col][0]
            out[pid] = Affinity(
                product_id=pid,
                score=float(scores[col]),
                because=because[i],
                source=_source(float(i2i[col]), float(content[col]), float(profile[col])),
            )
        return out

    def for_you(
        self,
        history: Sequence[Interaction],
        k: int,
        *,
        category: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Affinity]:
        """The top ``k`` in-stock products for the shopper, none already in the history or dismissed.

        Only products something speaks for (a positive score): with no log and no history, nothing.
        """
        if k <= 0:
            return []
        encoded = self.history(history)
        parts = self.parts([encoded])
        scores = self._with_cold(self.combine(parts), [encoded])[0]
        allowed = self.in_stock.copy()
        if category:
            allowed &= self._category_mask(category)
        allowed &= scores > 0  # nothing speaks for a product scoring 0: it is not recommended
        allowed[encoded.positions] = False
        allowed[encoded.dismissed] = False
        for pid in exclude:
            position = self.position_of.get(pid)
            if position is not None:
                allowed[position] = False
        top = _top(scores, allowed, k)
        if encoded.empty:
            trending = self.popularity.trending
            return [
                Affinity(
                    product_id=self.ids[pos],
                    score=float(scores[pos]),
                    source="trending" if trending[pos] > self.popularity.popular[pos] else "popular",
                )
                for pos in top
            ]
        because = self._because(encoded, top)
        profile = self._profile(parts)
        out = []
        for i, pos in enumerate(top):
            source = self._source(parts, profile, pos)
            out.append(
                Affinity(
                    product_id=self.ids[pos],
                    score=float(scores[pos]),
                    because=because[i] if source != "popular" else (),
                    source=source,
                )
            )
        return out

    def observe(self, user_key: str, interaction: Interaction) -> None:
        """No-op: the shopper's own history is read per request; the shared model is rebuilt periodically
        (:class:`~service.personalize.refresh.Refreshing`)."""

    # -- helpers ------------------------------------------------------------------------------------

    def _because(self, history: History, targets: np.ndarray) -> list[tuple[str, ...]]:
        """For each target position, the history products that contributed most to it, strongest first."""
        if not len(targets) or history.empty:
            return [() for _ in targets]
        positions, weights = self.step_weights(history)
        return self._named(
            positions,
            weights,
            self._i2i_rows.entries(positions, targets),
            self._content_rows.entries(positions, targets),
            targets,
        )

    def _named(
        self,
        positions: np.ndarray,
        weights: np.ndarray,
        i2i_block: np.ndarray,
        content_block: np.ndarray,
        targets: np.ndarray,
    ) -> list[tuple[str, ...]]:
        """:meth:`_because` from the history rows' blocks at the targets (steps x targets, unweighted)."""
        if not len(targets) or not len(positions):
            return [() for _ in targets]
        contribution = i2i_block * (weights[:, None] * self.params.item2item)
        contribution += content_block * (weights[:, None] * self.params.content)
        if self._has_profile:
            for codes, weight in ((self._category_codes, self.params.category), (self._brand_codes, self.params.brand)):
                same = (codes[positions][:, None] == codes[targets][None, :]) & (codes[positions][:, None] > 0)
                contribution += same * (weights[:, None] * weight / weights.sum())
        # Each column's steps strongest first (stable: ties keep the older step first); a step whose product an
        # earlier (stronger) step already named is a repeat; the first _BECAUSE others with a positive
        # contribution are named. All in arrays: a loop over 40 candidates' columns cost more than the scores.
        order = np.argsort(-contribution, axis=0, kind="stable")
        strength = np.take_along_axis(contribution, order, axis=0)
        product = positions[order]
        steps = len(positions)
        before = np.tri(steps, k=-1, dtype=bool).T  # before[i, j]: step i comes before step j
        repeat = ((product[:, None, :] == product[None, :, :]) & before[:, :, None]).any(axis=0)
        valid = (strength > 0) & ~repeat
        keep = (valid & (np.cumsum(valid, axis=0) <= _BECAUSE)).T
        cols, _ = np.nonzero(keep)
        named: list[list[str]] = [[] for _ in range(len(targets))]
        ids = self.ids
        for col, pos in zip(cols.tolist(), product.T[keep].tolist(), strict=True):
            named[col].append(ids[pos])
        return [tuple(n) for n in named]

    def _profile_at(self, positions: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The category and brand terms of the score at ``targets`` (what :meth:`parts` gives catalog-wide)."""
        out = np.zeros(len(targets))
        if not self._has_profile or not len(positions):
            return out
        total = weights.sum()
        for codes, size, weight in (
            (self._category_codes, self._n_categories, self.params.category),
            (self._brand_codes, self._n_brands, self.params.brand),
        ):
            share = np.bincount(codes[positions], weights=weights, minlength=size) / total
            share[0] = 0.0  # code 0: no category / no brand, which is no affinity
            out += weight * share[codes[targets]]
        return out

    def _profile(self, parts: Parts) -> np.ndarray:
        return self.params.category * parts.category[0] + self.params.brand * parts.brand[0]

    def _source(self, parts: Parts, profile: np.ndarray, pos: int) -> str:
        """:func:`_source` of catalog-wide ``parts`` (``profile`` is :meth:`_profile` of them)."""
        return _source(
            self.params.item2item * parts.item2item[0, pos], self.params.content * parts.content[0, pos], profile[pos]
        )

    def _category_mask(self, category: str) -> np.ndarray:
        category = "/".join(p.strip() for p in category.split("/") if p.strip())
        with self._lock:
            mask = self._category_masks.get(category)
            if mask is None:
                prefix = category + "/"
                mask = np.fromiter(
                    (c == category or c.startswith(prefix) for c in self._categories), dtype=bool, count=len(self.ids)
                )
                if len(self._category_masks) < 1024:
                    self._category_masks[category] = mask
            return mask


def _source(item2item: float, content: float, profile: float) -> str:
    """What speaks most for a product, from its weighted terms: co-occurrence, else its text (category and
    brand included), else only popularity."""
    if item2item <= 0 and content <= 0:
        return "content" if profile > 0 else "popular"
    return "item2item" if item2item >= content else "content"


def _codes(values: Iterable[str]) -> tuple[np.ndarray, int]:
    """Each value's code (0 for "", then 1, 2 ... in order of appearance) and how many codes there are."""
    seen: dict[str, int] = {"": 0}
    codes = [seen.setdefault(v, len(seen)) for v in values]
    return np.asarray(codes, dtype=np.int64), len(seen)


class _Rows:
    """A CSR matrix (scaled by ``1 / scale``) as raw arrays: weighted sums of a few rows without scipy's
    per-call overhead (a request combines at most ``max_history`` rows; scipy spent ~20 ms building
    matrices for it, this ~0.1 ms)."""

    def __init__(self, matrix: sp.csr_matrix, scale: float) -> None:
        matrix = matrix.tocsr()
        self.n = matrix.shape[1]
        self.indptr = matrix.indptr.astype(np.int64)
        self.indices = matrix.indices.astype(np.int64)
        self.data = matrix.data.astype(np.float64) / scale

    def _gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which of ``rows`` each stored entry belongs to, the entries' flat positions)."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        owner = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return owner, np.repeat(starts, lengths) + offsets

    def add_into(self, out: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> None:
        """``out += sum_k weights[k] * M[rows[k]]`` (dense, length ``n``)."""
        if not len(rows):
            return
        owner, flat = self._gather(rows)
        out += np.bincount(self.indices[flat], weights=self.data[flat] * weights[owner], minlength=self.n)

    def entries(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The dense block ``M[rows][:, cols]`` (``cols`` distinct)."""
        block = np.zeros((len(rows), len(cols)))
        if not len(rows) or not len(cols):
            return block
        owner, flat = self._gather(rows)
        order = np.argsort(cols, kind="stable")
        ordered = cols[order]
        found = self.indices[flat]
        at = np.minimum(np.searchsorted(ordered, found), len(ordered) - 1)
        hit = ordered[at] == found
        # bincount over the flattened block: np.add.at did the same several times slower
        cells = owner[hit] * len(cols) + order[at[hit]]
        return np.bincount(cells, weights=self.data[flat][hit], minlength=len(rows) * len(cols)).reshape(block.shape)


def _top(scores: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best allowed scores, best first (ties: catalog order)."""
    candidates = np.flatnonzero(allowed)
    if len(candidates) > k:
        values = scores[candidates]
        kth = len(candidates) - k
        cutoff = np.partition(values, kth)[kth]
        candidates = candidates[values >= cutoff]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]
