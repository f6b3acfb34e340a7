"""Other shops' column names: Shopify's product CSV, and a mapping (``--map``) for any other export.

A CSV whose header has Shopify's ``Handle`` and ``Title`` columns is read as a Shopify product export:

==========================  ====================================================================
Shopify column              product field
==========================  ====================================================================
Handle                      ``id``; the rows after the first of a Handle are its variants
Title                       ``title``
Body (HTML)                 ``description``, tags stripped and entities decoded
Vendor                      ``brand``
Product Category            ``category`` (``A > B > C`` becomes ``A/B/C``); else ``Type``
Type                        ``category`` when there is no Product Category, else attribute ``type``
Tags                        ``tags`` (comma-separated)
Variant Price               ``price``: the lowest over the variants; ``price_max`` when they differ
Option1..3 Name / Value     attributes ``{name: [values]}`` over the variants
Variant SKU                 attribute ``skus``
Variant Inventory Qty       ``in_stock``: some variant has stock (or the column is empty)
Status                      ``draft``/``archived`` products are loaded as not in stock
Image Src                   ``image_url`` (the first)
==========================  ====================================================================

Other columns (SEO, Google Shopping, ...) are ignored without a warning: they are Shopify's own.
:func:`parse_column_map` reads ``--map`` / ``SHOPGUIDE_CATALOG_COLUMNS``: ``"Their Name=field,..."``
(or a JSON object), renaming a CSV's columns to product fields before anything else.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

from service.catalog.product import Product

SHOPIFY_MARKERS = ("Handle", "Title")
_SHOPIFY_USED = {
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Variant Price", "Variant SKU",
    "Variant Inventory Qty", "Status", "Image Src", "Published",
    *(f"Option{i} {part}" for i in (1, 2, 3) for part in ("Name", "Value")),
}
FIELDS = tuple(Product.model_fields)
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The text of an HTML fragment: tags (and script/style contents) removed, entities decoded, blocks on
    their own lines, runs of spaces collapsed."""
    if "<" not in markup and "&" not in markup:
        return " ".join(markup.split())
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def is_shopify(header: Iterable[str]) -> bool:
    names = {h.strip() for h in header}
    return all(m in names for m in SHOPIFY_MARKERS)


def parse_column_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"Their Column=field,Other=field"`` or a JSON object -> ``{their column: product field}``.

    :raises ValueError: a malformed entry or a target that is not a product field.
    """
    if not spec:
        return {}
    if isinstance(spec, Mapping):
        pairs = dict(spec)
    elif spec.strip().startswith("{"):
        try:
            pairs = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc.msg}") from None
        if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
            raise ValueError("must map column names to product field names")
    else:
        pairs = {}
        for entry in (e for e in re.split(r"[,\n]", spec) if e.strip()):
            source, sep, target = entry.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise ValueError(f"{entry.strip()!r} is not COLUMN=field")
            pairs[source.strip()] = target.strip()
    unknown = sorted({v for v in pairs.values() if v not in FIELDS})
    if unknown:
        raise ValueError(f"unknown product field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return {str(k).strip(): v for k, v in pairs.items()}


def _price(value: str) -> float | None:
    value = value.strip().replace(",", "")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"Variant Price: not a number: {value!r}") from None


def shopify_products(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, Any]]]:
    """Shopify rows (line number, cells by column) grouped by Handle into product rows (the line of each
    product's first row); variant rows fold into their product.

    :raises ValueError: never; a bad cell becomes the row's ``_error`` (reported by the loader).
    """
    grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
    order: list[str] = []
    orphans: list[tuple[int, dict[str, Any]]] = []
    for line, cells in rows:
        handle = (cells.get("Handle") or "").strip()
        if not handle:
            orphans.append((line, {"_error": "Handle: empty"}))
            continue
        if handle not in grouped:
            grouped[handle] = []
            order.append(handle)
        grouped[handle].append((line, cells))
    out = [(grouped[h][0][0], _shopify_product(h, grouped[h])) for h in order]
    return sorted(out + orphans, key=lambda item: item[0])


def _shopify_product(handle: str, rows: list[tuple[int, dict[str, str]]]) -> dict[str, Any]:
    first = rows[0][1]

    def cell(name: str, cells: Mapping[str, str] = first) -> str:
        return (cells.get(name) or "").strip()

    row: dict[str, Any] = {"id": handle}
    for source, target in (("Title", "title"), ("Vendor", "brand")):
        if cell(source):
            row[target] = cell(source)
    if cell("Body (HTML)"):
        row["description"] = html_to_text(cell("Body (HTML)"))
    category = cell("Product Category")
    kind = cell("Type")
    if category:
        row["category"] = "/".join(p.strip() for p in category.split(">"))
    elif kind:
        row["category"] = kind
    attributes: dict[str, Any] = {}
    if category and kind:
        attributes["type"] = kind
    if cell("Tags"):
        row["tags"] = [t.strip() for t in cell("Tags").split(",") if t.strip()]
    prices: list[float] = []
    stock: list[int] = []
    skus: list[str] = []
    options: dict[str, list[str]] = {}
    names = [cell(f"Option{i} Name") for i in (1, 2, 3)]
    images: list[str] = []
    try:
        for _, cells in rows:
            price = _price(cell("Variant Price", cells))
            if price is not None:
                prices.append(price)
            qty = cell("Variant Inventory Qty", cells)
            if qty:
                try:
                    stock.append(int(float(qty)))
                except ValueError:
                    raise ValueError(f"Variant Inventory Qty: not a number: {qty!r}") from None
            if cell("Variant SKU", cells):
                skus.append(cell("Variant SKU", cells))
            for i, name in enumerate(names, start=1):
                value = cell(f"Option{i} Value", cells)
                if name and value and name.lower() != "title" and value not in options.setdefault(name, []):
                    options[name].append(value)
            if cell("Image Src", cells):
                images.append(cell("Image Src", cells))
    except ValueError as exc:
        return {"id": handle, "_error": str(exc)}
    if prices:
        row["price"] = min(prices)
        if max(prices) != min(prices):
            attributes["price_max"] = max(prices)
    attributes.update({name: values for name, values in options.items() if values})
    if skus:
        attributes["skus"] = skus
    if attributes:
        row["attributes"] = attributes
    if images:
        row["image_url"] = images[0]
    status = cell("Status").lower()
    row["in_stock"] = status not in ("draft", "archived") and (not stock or any(q > 0 for q in stock))
    return row


def shopify_ignored(header: Iterable[str]) -> list[str]:
    """Columns of a Shopify export that are not read (reported once, not as unknown fields)."""
    return sorted(h for h in header if h and h.strip() not in _SHOPIFY_USED)
