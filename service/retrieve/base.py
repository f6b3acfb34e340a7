"""What retrieval takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from service.catalog.product import Product
from service.validate.recommend import Filters


@dataclass(frozen=True)
class Candidate:
    """A product retrieval proposes, with its score and the query terms it matched."""

    product: Product
    score: float
    matched_terms: tuple[str, ...] = field(default=())


class Retriever(Protocol):
    """Finds candidate products for a shopper's words, honouring hard filters."""

    def search(self, query: str, filters: Filters, n: int) -> list[Candidate]:
        """Top ``n`` products that pass ``filters``, best first (may be fewer, never a filtered-out one)."""
        ...
