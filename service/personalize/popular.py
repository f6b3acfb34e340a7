"""What a shopper with no history gets: popular products overall, and what is trending now.

``popular``: each product's event-weighted count in the log, on a log scale so a best-seller does
not drown everything else. ``trending``: the same counts decayed by age (``half_life_days``,
relative to the newest event), so what sells this week rises above last year's best-seller. Both
are scaled to [0, 1] and can be restricted to a category (a path prefix: ``Clothing`` holds
``Clothing/Outerwear``) when the request has an understood category.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.personalize.corpus import Corpus

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class PopularParams:
    half_life_days: float = 7.0
    trending_share: float = 0.5  # how much of a cold shopper's score comes from trending (vs all-time popular)

    def __post_init__(self) -> None:
        if self.half_life_days <= 0 or not 0 <= self.trending_share <= 1:
            raise ValueError("half_life_days must be > 0 and trending_share in [0, 1]")


class Popularity:
    """Popular and trending scores of every product (float32 in [0, 1], catalog order)."""

    def __init__(self, popular: np.ndarray, trending: np.ndarray, trending_share: float = 0.5) -> None:
        self.popular = popular.astype(np.float32)
        self.trending = trending.astype(np.float32)
        self.trending_share = trending_share

    @classmethod
    def build(cls, corpus: Corpus, params: PopularParams | None = None) -> Popularity:
        params = params or PopularParams()
        counts = np.log1p(corpus.popularity())
        trending = np.zeros(corpus.size)
        if corpus.latest_ms > 0:
            age_days = np.clip((corpus.latest_ms - corpus.time_ms) / _DAY_MS, 0, None)
            decayed = corpus.weight * 0.5 ** (age_days / params.half_life_days)
            trending = np.log1p(np.bincount(corpus.item, weights=decayed, minlength=corpus.size))
        return cls(_unit(counts), _unit(trending), params.trending_share)

    def cold(self) -> np.ndarray:
        """A cold shopper's score of every product: popular, blended with trending when the log has times."""
        if not self.trending.any():
            return self.popular
        return (1 - self.trending_share) * self.popular + self.trending_share * self.trending

    def save(self, directory: Path) -> None:
        np.savez(directory / "popular.npz", popular=self.popular, trending=self.trending, share=self.trending_share)

    @classmethod
    def load(cls, directory: Path) -> Popularity:
        with np.load(directory / "popular.npz") as data:
            return cls(data["popular"], data["trending"], float(data["share"]))


def _unit(values: np.ndarray) -> np.ndarray:
    top = values.max(initial=0.0)
    return values / top if top > 0 else np.zeros_like(values)
