"""Load a catalog from JSONL or CSV, reporting every bad row by line number."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.catalog.product import Product
from service.errors import CatalogError

DEMO_CATALOG = "demo.jsonl"
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
_KNOWN = set(Product.model_fields)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    product_id: str | None = None

    def __str__(self) -> str:
        who = f" (id {self.product_id})" if self.product_id else ""
        return f"line {self.line}{who}: {self.message}"


@dataclass
class LoadReport:
    source: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.rows - len(self.errors)

    def summary(self) -> str:
        lines = [f"{self.source}: {self.rows} rows, {self.loaded} loaded, {len(self.errors)} rejected"]
        if self.ignored_columns:
            lines.append(f"ignored unknown fields: {', '.join(sorted(self.ignored_columns))}")
        lines.extend(f"  {err}" for err in self.errors)
        return "\n".join(lines)


@dataclass(frozen=True)
class Catalog:
    """The loaded products, an id index, and a content hash used as the catalog's version."""

    products: tuple[Product, ...]
    report: LoadReport
    version: str
    by_id: dict[str, Product] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def of(cls, products: list[Product] | tuple[Product, ...], report: LoadReport | None = None) -> Catalog:
        products = tuple(products)
        digest = hashlib.sha256()
        for product in products:
            digest.update(product.model_dump_json().encode())
            digest.update(b"\n")
        return cls(
            products=products,
            report=report or LoadReport(source="<memory>", rows=len(products)),
            version=digest.hexdigest()[:16],
            by_id={p.id: p for p in products},
        )

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str) -> Product | None:
        return self.by_id.get(product_id)

    def price_currency(self) -> str | None:
        """The one currency every priced product is in; None for a catalog with several (or no prices)."""
        currencies = {p.currency for p in self.products if p.price is not None}
        return currencies.pop() if len(currencies) == 1 else None


def demo_catalog_path() -> Path:
    return Path(str(files("service.catalog").joinpath("data", DEMO_CATALOG)))


def load_catalog(path: str | Path | None = None, *, strict: bool = False) -> Catalog:
    """Load ``path`` (JSONL or CSV by extension); ``None`` loads the embedded demo catalog.

    :raises CatalogError: if the file cannot be read, holds no products, or (``strict``) has any bad row.
    """
    path = Path(path) if path is not None else demo_catalog_path()
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        rows = _jsonl_rows(path)
    elif suffix in {".csv", ".tsv"}:
        rows = _csv_rows(path, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise CatalogError(f"{path}: unknown catalog format {suffix!r} (use .jsonl or .csv)")

    report = LoadReport(source=str(path))
    products: list[Product] = []
    seen: set[str] = set()
    ignored: set[str] = set()
    try:
        for line, raw in rows:
            report.rows += 1
            if isinstance(raw, RowError):
                report.errors.append(raw)
                continue
            product_id = str(raw.get("id") or "").strip() or None
            extra = set(raw) - _KNOWN
            ignored |= extra
            try:
                product = Product.model_validate({k: v for k, v in raw.items() if k in _KNOWN})
            except ValidationError as exc:
                report.errors.append(RowError(line, _describe(exc), product_id))
                continue
            if product.id in seen:
                report.errors.append(RowError(line, "duplicate id", product.id))
                continue
            seen.add(product.id)
            products.append(product)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogError(f"{path}: cannot read catalog: {exc}") from exc
    report.ignored_columns = sorted(ignored)

    if strict and report.errors:
        raise CatalogError(f"{path}: {len(report.errors)} bad row(s) in strict mode\n{report.summary()}")
    if not products:
        raise CatalogError(f"{path}: no valid products\n{report.summary()}")
    return Catalog.of(products, report)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with path.open(encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, RowError(line_no, f"bad JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(row, dict):
                yield line_no, RowError(line_no, "row is not a JSON object")
                continue
            yield line_no, row


def _csv_rows(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    # csv.reader, not DictReader: DictReader reads its header lazily and skips blank
    # lines unseen, so the line a record starts on cannot be told from its line_num.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header: list[str] | None = None
        end = 0  # last physical line consumed so far
        for cells in reader:
            line_no, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = cells
                continue
            if len(cells) > len(header):
                yield line_no, RowError(line_no, "more cells than header columns")
                continue
            record = dict(zip(header, cells))
            try:
                yield line_no, _from_csv(record)
            except ValueError as exc:
                yield line_no, RowError(line_no, str(exc), (record.get("id") or "").strip() or None)


def _from_csv(record: dict[str, str | None]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in record.items():
        key = (key or "").strip()
        value = (value or "").strip()
        if not key or (value == "" and key in _KNOWN):
            continue  # unknown columns stay, even empty, so the report names them
        if key == "attributes":
            try:
                attrs = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"attributes: bad JSON: {exc.msg}") from None
            if not isinstance(attrs, dict):
                raise ValueError("attributes: must be a JSON object")
            row[key] = attrs
        elif key == "tags":
            row[key] = [t.strip() for t in value.split(";") if t.strip()]
        elif key == "in_stock":
            lowered = value.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError(f"in_stock: not a boolean: {value!r}")
            row[key] = lowered in _TRUE
        elif key == "price":
            try:
                row[key] = float(value.replace(",", ""))
            except ValueError:
                raise ValueError(f"price: not a number: {value!r}") from None
        else:
            row[key] = value
    return row
