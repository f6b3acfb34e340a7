"""Find the factual claims in marketing copy and check each one against the product data.

What counts as a claim (English and Chinese; full-width forms are NFKC-folded first):

- **quantity**: a number with a unit, e.g. ``5000mAh``, ``5,000 mAh``, ``两万毫安``,
  ``2万毫安时``, ``20Ah``, ``1.5kg``, ``15.6"``, ``15.6英寸``, ``144Hz``, ``65W``,
  ``512GB``, ``30小时``, ``3年``, ``-30°C``, ``零下30度``, ``800 fill power``,
  ``蓬松度800``, ``90%``, ``百分之九十``, ``48MP``, ``4800万像素``, ``4.8 stars``;
  ranges (``5-10 hours``, ``5到10小时``) and dimensions (``30×20×10cm``) give one
  quantity per number. Units are normalized (mAh, g, mm, ml, s, ...) so
  ``20000mAh == 2万毫安时 == 20Ah``, ``1.5kg == 1500g``, ``15.6" == 39.6cm``,
  ``1 year == 12 months``.
- **money**: ``$199``, ``US$199``, ``¥299``, ``299元``, ``两千九百九十九元``, ``2999 CNY``;
  an amount off (``save $50``, ``立减50元``, ``$50 off``).
- **discount**: ``50% off``, ``save 30%``, ``五折``, ``打8折``, ``8.5折``, ``85折``, ``半价``,
  ``half price``.
- **multiplier**: ``2x faster``, ``3倍``, ``两倍``.
- **count**: a number with a counted noun: ``2 colors``, ``3色``, ``5 pcs``, ``3-pack``,
  ``pack of 3``, ``2双``, ``5-in-1``, ``五合一``, ``10,000+ reviews``, ``已售10万+``.
- **year**: a calendar year used as a product fact: ``2025款``, ``2025年``, ``2025 model``.
- **spec**: ``IP68``, ``IPX7``, ``Bluetooth 5.3``/``蓝牙5.3``, ``Wi-Fi 6``, ``4K``, ``1080p``.

Not claims: bare numbers with no unit (``24/7``, ``iPhone 15``, ``3 easy steps``,
``618``), numbers glued to letters (model names such as ``X200W``), ordinals
(``第一``, ``1st``; absolute words are the compliance check's job), English
number words (``two colors``), a lone ``一`` before a time, count or multiplier
word (``一年四季``, ``一天``, ``一键``, ``提升一倍``: idiom far more often than fact),
Chinese digit runs without a place word (``三五天`` means "three to five"), and the
ambiguous ``256G`` / ``5G``. Words in front of a number set how it compares:
``under $200`` / ``不到200元`` / ``200元以下`` hold when the data's value is at or
below it, ``over 20 hours`` / ``超过20小时`` / ``10,000+`` when at or above;
``up to``, ``only``, ``低至`` compare for equality.

A claim is backed when the product data (title, description, brand, category,
tags, attribute keys and values, price and currency) holds the same quantity:

- same dimension after unit normalization, equal within the claim's own
  rounding (half a unit of its last written digit) or 0.5% (unit conversions);
  ``°``/``度`` match ``°C``; prices only within rounding, never the 0.5%;
- money also matches the currency when both sides have one; a marker means what
  :func:`service.text.currency.currency_of` says for the product's own currency, the
  answer query understanding gives too (``¥`` is JPY for a yen-priced product, else CNY;
  ``$`` is the product's dollar when it is priced in one, else USD); price-like attributes
  (``original_price``, ``原价``, ...) are prices too;
- a discount matches a discount written in the data, or the one the price and an
  original/list/compare-at price imply (within one percentage point); an amount
  off matches a money figure in the data or the price difference;
- a count matches a count of the same noun, or the number of items an attribute
  named for that noun lists (``colors: [black, white]`` backs ``2 colors``);
- a year matches any number in the data (a ``2025`` in the title backs ``2025款``);
- a numeric attribute value whose key names no unit (``capacity: 5000``) backs a
  quantity or count claim with the same number: the data holds the figure, we
  cannot tell its unit.

:func:`unsupported_claims` returns the claims that are not backed, as written in
the copy. Build :func:`product_facts` once per product when checking many variants.

Modules: :mod:`.units` (units, counted nouns, currency markers), :mod:`.claim` (a claim and
its rounding), :mod:`.extract` (finding claims), :mod:`.facts` (what a product's data holds),
:mod:`.backing` (whether the facts hold a claim).
"""

from __future__ import annotations

from service.copywriting.grounding.backing import is_backed, unsupported_claims
from service.copywriting.grounding.claim import Claim
from service.copywriting.grounding.extract import extract_claims
from service.copywriting.grounding.facts import ProductFacts, product_facts

__all__ = ["Claim", "ProductFacts", "extract_claims", "is_backed", "product_facts", "unsupported_claims"]
