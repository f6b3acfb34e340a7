"""Load a catalog from JSONL or CSV (shopguide's columns, a Shopify product export, or any CSV with a column
map), reporting every bad row by line number. See :mod:`service.catalog.columns` for Shopify and ``--map``."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.catalog.columns import is_shopify, shopify_products
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
    format: str = "shopguide"  # or "shopify": a Shopify product export, its variant rows folded per Handle

    @property
    def loaded(self) -> int:
        return self.rows - len(self.errors)

    def summary(self) -> str:
        what = "products (a Shopify export, variant rows folded per Handle)" if self.format == "shopify" else "rows"
        lines = [f"{self.source}: {self.rows} {what}, {self.loaded} loaded, {len(self.errors)} rejected"]
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


def load_catalog(
    path: str | Path | None = None, *, strict: bool = False, columns: Mapping[str, str] | None = None
) -> Catalog:
    """Load ``path`` (JSONL or CSV by extension); ``None`` loads the embedded demo catalog.

    A CSV with Shopify's ``Handle`` and ``Title`` columns is read as a Shopify export; ``columns`` renames a
    CSV's columns (or a JSONL row's keys) to product fields first (``{"Product Name": "title"}``).

    :raises CatalogError: if the file cannot be read, holds no products, or (``strict``) has any bad row.
    """
    path = Path(path) if path is not None else demo_catalog_path()
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    suffix = path.suffix.lower()
    report = LoadReport(source=str(path))
    rename = dict(columns or {})
    if suffix in {".jsonl", ".ndjson", ".json"}:
        rows = _renamed(_jsonl_rows(path), rename)
    elif suffix in {".csv", ".tsv"}:
        rows = _csv_rows(path, delimiter="\t" if suffix == ".tsv" else ",", rename=rename, report=report)
    else:
        raise CatalogError(f"{path}: unknown catalog format {suffix!r} (use .jsonl or .csv)")

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


def _renamed(
    rows: Iterator[tuple[int, dict[str, Any] | RowError]], rename: Mapping[str, str]
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, row in rows:
        yield line, row if isinstance(row, RowError) or not rename else {rename.get(k, k): v for k, v in row.items()}


def _csv_rows(
    path: Path, delimiter: str, *, rename: Mapping[str, str] | None = None, report: LoadReport | None = None
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    # csv.reader, not DictReader: DictReader reads its header lazily and skips blank
    # lines unseen, so the line a record starts on cannot be told from its line_num.
    rename = rename or {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header: list[str] | None = None
        shopify: list[tuple[int, dict[str, str]]] | None = None
        end = 0  # last physical line consumed so far
        for cells in reader:
            line_no, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [rename.get(c.strip(), c.strip()) for c in cells]
                if is_shopify(header):
                    shopify = []
                    if report is not None:
                        report.format = "shopify"
                continue
            if len(cells) > len(header):
                yield line_no, RowError(line_no, "more cells than header columns")
                continue
            if shopify is not None:
                shopify.append((line_no, dict(zip(header, cells))))
                continue
            record = dict(zip(header, cells))
            try:
                yield line_no, _from_csv(record)
            except ValueError as exc:
                yield line_no, RowError(line_no, str(exc), (record.get("id") or "").strip() or None)
        for line_no, row in shopify_products(shopify or []):
            if "_error" in row:
                yield line_no, RowError(line_no, row["_error"], row.get("id"))
            else:
                yield line_no, row


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


CSV_FIELDS = tuple(Product.model_fields)


def write_catalog(products: Iterable[Product], path: str | Path) -> int:
    """Write ``products`` as a shopguide catalog (.jsonl, or .csv with a UTF-8 byte-order mark for Excel) that
    :func:`load_catalog` reads back as they are; the file gets the user's umask. Returns the products written."""
    path = Path(path)
    count = 0
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(CSV_FIELDS)
            for product in products:
                data = product.model_dump(mode="json")
                writer.writerow([_csv_cell(name, data[name]) for name in CSV_FIELDS])
                count += 1
        return count
    with path.open("w", encoding="utf-8") as fh:
        for product in products:
            fh.write(product.model_dump_json(exclude_defaults=True) + "\n")
            count += 1
    return count


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "attributes":
        return json.dumps(value, ensure_ascii=False) if value else ""
    if name == "tags":
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
