"""Hard constraints a shopper stated in their own words (English and Chinese): price, brand, category, exclusions.

One module per job: :mod:`.price` (bounds, bands, the currency written), :mod:`.flags` (cheap, premium,
stock), :mod:`.exclusions` (what the shopper does not want), :mod:`.catalog_terms` (the catalog's
categories and brands named in the query), :mod:`.understood` (the result) and :mod:`.query` (runs them
in order). Each module's docstring states its policy. Turning the result into retrieval filters is
:func:`service.retrieve.filters.merge_filters`.
"""

from service.retrieve.understand.price import APPROX_BAND
from service.retrieve.understand.query import QueryUnderstanding
from service.retrieve.understand.understood import Understood

__all__ = ["APPROX_BAND", "QueryUnderstanding", "Understood"]
