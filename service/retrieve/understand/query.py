"""QueryUnderstanding: runs the readers over one query and composes their findings into :class:`Understood`.

The readers run in order on the NFKC-normalized query, each on what the earlier ones left: prices
(:mod:`.price`), then cheap/premium/stock (:mod:`.flags`), then exclusions (:mod:`.exclusions`); the
brand and category (:mod:`.catalog_terms`) are read from what remains. Each reader's phrases are blanked
out, so "not too expensive" is a cheap signal and not an exclusion of "expensive", and
``cleaned_query`` is the query without the price, cheap/premium, stock and exclusion phrases; when
nothing else is left it is the whole (normalized) query.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from service.retrieve.hint_words import DEFAULT_BRAND_ALIASES
from service.retrieve.understand.catalog_terms import BrandIndex, CategoryIndex
from service.retrieve.understand.exclusions import read_exclusions
from service.retrieve.understand.flags import read_flags
from service.retrieve.understand.price import read_prices
from service.retrieve.understand.understood import Understood

if TYPE_CHECKING:
    from service.catalog.load import Catalog

_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?，。；：！？、])")
_REPEATED_PUNCT = re.compile(r"([,.;:!?，。；：！？、])(?:\s*[,.;:!?，。；：！？、])+")
_LEADING_JUNK = re.compile(r"(?:[\s,.;:!?，。；：！？、]|(?:and|but|or|with|also)\b|但是|但|而且|并且|和|的)+", re.IGNORECASE)
_TRAILING_JUNK = re.compile(
    r"(?:[\s,.;:!?，。；：！？、]|(?<![a-z])(?:and|but|or|with|also|for)|但是|但|而且|并且|和|的)+\Z", re.IGNORECASE
)
_TRAILING_WINDOW = 24  # dangling words are short: look only at the end of the text
_ALNUM = re.compile(r"[^\W_]")


class QueryUnderstanding:
    """Reads price, brand, category, stock and exclusion constraints out of a shopper's query.

    Built once per catalog (it indexes the catalog's categories and brands); :meth:`parse` is then
    cheap and thread-safe.
    """

    def __init__(
        self,
        categories: Iterable[str],
        brands: Iterable[str],
        category_hints: Mapping[str, str] | None = None,
        *,
        brand_aliases: Mapping[str, str] | None = None,
        currency: str | None = None,
    ) -> None:
        """``category_hints`` maps shopper words to category paths and wins over the built-in groups;
        ``brand_aliases`` maps other names to catalog brands and adds to the built-in Chinese names.
        Hints and aliases that point at nothing in the catalog are ignored. ``currency`` is the catalog's
        one currency (None for a mixed catalog): it says what an ambiguous marker such as ``¥`` means."""
        self._categories = CategoryIndex(categories, category_hints or {})
        self._brands = BrandIndex(brands, {**DEFAULT_BRAND_ALIASES, **(brand_aliases or {})})
        self._currency = currency

    @classmethod
    def from_catalog(cls, catalog: Catalog, category_hints: Mapping[str, str] | None = None) -> QueryUnderstanding:
        """Understanding over ``catalog``'s categories, brands and currency."""
        return cls(
            (p.category for p in catalog.products if p.category),
            (p.brand for p in catalog.products if p.brand),
            category_hints,
            currency=catalog.price_currency(),
        )

    def parse(self, query: str) -> Understood:
        """Constraints stated in ``query``; an empty :class:`Understood` (but ``cleaned_query``) if none."""
        text = _WS.sub(" ", unicodedata.normalize("NFKC", query)).strip()
        chars = list(text)  # removed phrases are blanked here, keeping offsets valid

        def blank(spans: list[tuple[int, int]]) -> str:
            for start, end in spans:
                chars[start:end] = " " * (end - start)
            return "".join(chars)

        out, spans = read_prices(text, self._currency)
        masked = blank(spans)
        flags, spans = read_flags(masked)
        out.update(flags)
        masked = blank(spans)
        excluded, spans = read_exclusions(masked)
        masked = blank(spans)
        if excluded:
            out["exclude_terms"] = excluded
            brands = list(dict.fromkeys(brand for term in excluded for brand in self._brands.brands_in(term)))
            if brands:
                out["exclude_brands"] = brands

        low = masked.lower()  # both indexes fold case: one tokenization serves both
        named = set(self._brands.brands_in(low)) - set(out.get("exclude_brands", ()))
        if len(named) == 1:
            out["brand"] = named.pop()
        category = self._categories.category_in(low)
        if category:
            out["category"] = category
        out["cleaned_query"] = _clean(masked) or text
        return Understood(**out)


def _clean(masked: str) -> str:
    """The query left once the understood phrases are blanked out: no dangling words or doubled punctuation."""
    cleaned = _WS.sub(" ", masked).strip()
    cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", cleaned)
    cleaned = _REPEATED_PUNCT.sub(r"\1", cleaned)
    lead = _LEADING_JUNK.match(cleaned)
    if lead:
        cleaned = cleaned[lead.end() :]
    # Dangling words left where a removed phrase was ("shoes but", "跑鞋，但").
    tail = _TRAILING_JUNK.search(cleaned, max(0, len(cleaned) - _TRAILING_WINDOW))
    if tail:
        cleaned = cleaned[: tail.start()]
    return cleaned if _ALNUM.search(cleaned) else ""

