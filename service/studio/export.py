"""Approved copy out: CSV in Shopify's product CSV columns, and JSON lines with every field.

Shopify's product import reads ``Handle`` (the product's URL handle; here the
product id), ``Title``, ``Body (HTML)``, ``SEO Title``, ``SEO Description`` and
``Tags``. The CSV starts with a UTF-8 BOM so Excel shows Chinese correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from html import escape
from typing import Any

import orjson

from service.catalog.load import Catalog

SHOPIFY_COLUMNS = ("Handle", "Title", "Body (HTML)", "SEO Title", "SEO Description", "Tags")
SEO_TITLE_MAX = 70
SEO_DESCRIPTION_MAX = 320


def body_html(version: dict[str, Any]) -> str:
    """The copy as Shopify body HTML: the body as a paragraph, bullets as a list, every text escaped."""
    html = f"<p>{escape(version['body'])}</p>"
    bullets = [b for b in version.get("bullets") or [] if b.strip()]
    if bullets:
        html += "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in bullets) + "</ul>"
    return html


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def shopify_row(entry: dict[str, Any], version: dict[str, Any], catalog: Catalog) -> list[str]:
    product = catalog.get(entry["product_id"])
    snapshot = version.get("product") or {}
    title = product.title if product else snapshot.get("title") or entry.get("title") or entry["product_id"]
    tags = list(product.tags) if product else list(snapshot.get("tags") or [])
    return [
        entry["product_id"],
        title,
        body_html(version),
        _cut(version["headline"], SEO_TITLE_MAX),
        _cut(version["body"], SEO_DESCRIPTION_MAX),
        ", ".join(tags),
    ]


def export_csv(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]], catalog: Catalog) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    writer.writerow(SHOPIFY_COLUMNS)
    yield "\ufeff" + flush()
    for entry, version in rows:
        writer.writerow(shopify_row(entry, version, catalog))
        yield flush()


def export_jsonl(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> Iterator[bytes]:
    for entry, version in rows:
        yield orjson.dumps({**version, "product_id": entry["product_id"], "status": entry["status"],
                            "row_version": entry["row_version"]}) + b"\n"
