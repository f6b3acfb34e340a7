"""One product through the copy pipeline as a bulk record, and records as CSV rows."""

from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import Iterable, Iterator
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
)
BULLET_SEPARATOR = " | "


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


def csv_rows(record: CopyRecord) -> Iterator[list[str]]:
    """One row per variant (``variant`` counts from 1); one row with the error for a failed product."""
    if not record.variants:
        yield [record.product_id, record.status, record.error or "", "", "", "", "", "", "", "", record.provider or "", record.model or ""]
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
        ]


def csv_lines(records: Iterable[CopyRecord], *, header: bool = True) -> Iterator[str]:
    """CSV text, a header then a line (or a few) per record; for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for record in records:
        for row in csv_rows(record):
            writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
