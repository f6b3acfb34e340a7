"""One product through the copy pipeline as a bulk record, and records as CSV rows."""

from __future__ import annotations

import csv
import html
import io
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from service.catalog.product import Product
from service.errors import ShopguideError
from service.pipeline.copy import CopyPipeline
from service.respond.copy import CopyRecord
from service.validate.copy import CopyOptions

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "product_id",
    "status",
    "error",
    "variant",
    "headline",
    "body",
    "bullets",
    "cta",
    "unsupported_claims",
    "keywords_missing",
    "provider",
    "model",
    "rejected",
)
BULLET_SEPARATOR = " | "
BOM = "\ufeff"  # CSV files start with it, so Excel reads them as UTF-8 (Chinese shows as Chinese)
# Shopify's product CSV import: the Handle finds the product, the rest update it (title is the product's own).
SHOPIFY_COLUMNS = ("Handle", "Title", "Body (HTML)", "SEO Title", "SEO Description")
SEO_DESCRIPTION_MAX = 320  # what Shopify's editor counts to


class Finished(NamedTuple):
    """A product's record, serialized once where it was written (cheap to pass between processes)."""

    product_id: str
    status: str
    tokens: int
    line: bytes  # the CopyRecord as one line of JSON, without the newline


def finished(record: CopyRecord) -> Finished:
    return Finished(
        record.product_id,
        record.status,
        record.usage.tokens_in + record.usage.tokens_out,
        record.model_dump_json().encode(),
    )


def write_record(pipeline: CopyPipeline, product: Product, options: CopyOptions) -> CopyRecord:
    """The product's copy as a record; any failure becomes a ``failed`` record carrying the error, never an exception."""
    try:
        response = pipeline.write(product, options, uuid.uuid4().hex, allow_degraded=False)
    except ShopguideError as exc:
        return CopyRecord.failure(product.id, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug must cost one product, not the run
        log.exception("copy failed for product %s", product.id)
        return CopyRecord.failure(product.id, f"internal error: {type(exc).__name__}: {exc}")
    return CopyRecord.from_response(response, cached=response.cached)


def rejected_text(record: CopyRecord) -> str:
    """The product's variants that were not used, as ``headline: reason; reason``, joined by `` | ``: what the
    checks found (a wrong language, a compliance hit, a near-duplicate), so a CSV shows it too."""
    return BULLET_SEPARATOR.join(
        f"{r.headline or '(no headline)'}: {'; '.join(r.reasons)}" for r in record.rejected if r.outcome == "dropped"
    )


def csv_rows(record: CopyRecord) -> Iterator[list[str]]:
    """One row per variant (``variant`` counts from 1); one row with the error for a failed product. Every row
    of a product names its rejected variants and why (column ``rejected``)."""
    rejected = rejected_text(record)
    if not record.variants:
        yield [record.product_id, record.status, record.error or "", "", "", "", "", "", "", "", record.provider or "",
               record.model or "", rejected]
        return
    for i, v in enumerate(record.variants, start=1):
        yield [
            record.product_id,
            record.status,
            record.error or "",
            str(i),
            v.headline,
            v.body,
            BULLET_SEPARATOR.join(v.bullets),
            v.cta,
            BULLET_SEPARATOR.join(v.checks.unsupported_claims),
            BULLET_SEPARATOR.join(v.checks.keywords_missing),
            record.provider or "",
            record.model or "",
            rejected,
        ]


def body_html(body: str, bullets: Iterable[str]) -> str:
    """Copy as the HTML a shop's product description holds: the body's paragraphs, then the bullets as a list."""
    paragraphs = [p.strip() for p in body.split("\n") if p.strip()]
    out = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    items = [b for b in bullets if b.strip()]
    if items:
        out += "<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in items) + "</ul>"
    return out


def shopify_rows(record: CopyRecord, title_of: Callable[[str], str | None]) -> Iterator[list[str]]:
    """One Shopify import row for a product with copy (its first variant); none for a failed product, so an
    import never blanks a description."""
    if record.status != "ok" or not record.variants:
        return
    v = record.variants[0]
    seo = " ".join(v.body.split())
    if len(seo) > SEO_DESCRIPTION_MAX:
        seo = seo[: SEO_DESCRIPTION_MAX - 1].rstrip() + "…"
    yield [record.product_id, title_of(record.product_id) or v.headline, body_html(v.body, v.bullets), v.headline, seo]


def csv_lines(
    records: Iterable[CopyRecord],
    *,
    header: bool = True,
    rows: Callable[[CopyRecord], Iterable[list[str]]] = csv_rows,
    columns: Iterable[str] = CSV_COLUMNS,
) -> Iterator[str]:
    """CSV text, a byte-order mark and a header, then a line (or a few) per record; for streaming.

    ``rows``/``columns``: another layout, e.g. :func:`shopify_rows` with :data:`SHOPIFY_COLUMNS`.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        buffer.write(BOM)
        writer.writerow(list(columns))
    for record in records:
        for row in rows(record):
            writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
