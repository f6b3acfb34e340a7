"""load_catalog on JSONL and CSV files: every bad-row kind, by line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.catalog.load import Catalog, RowError, load_catalog
from service.errors import CatalogError


def _write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _jsonl(path: Path, lines: list[object | str]) -> Path:
    """Each item is a JSON value, or a raw string written as-is (for broken lines)."""
    out = [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in lines]
    return _write(path, "\n".join(out) + "\n")


def _errors(catalog: Catalog) -> dict[int, RowError]:
    return {err.line: err for err in catalog.report.errors}


GOOD = {"id": "A1", "title": "Northpeak Down Jacket", "price": 349, "currency": "usd"}


# ---------------------------------------------------------------- JSONL


@pytest.fixture
def messy_jsonl(tmp_path: Path) -> Path:
    return _jsonl(
        tmp_path / "catalog.jsonl",
        [
            GOOD,  # 1
            {"title": "no id here", "price": 5},  # 2
            {"id": "B2", "price": 5},  # 3: missing title
            "",  # 4: blank, skipped but counted as a line
            {"id": "A1", "title": "same id again"},  # 5: duplicate
            {"id": "C3", "title": "Bad price", "price": "cheap"},  # 6
            {"id": "D4", "title": "Negative price", "price": -1},  # 7
            '{"id": "E5", "title": "broken", ',  # 8: bad JSON
            [1, 2, 3],  # 9: not an object
            {"id": "F6", "title": "羽绒服 女 长款", "price": "1,299", "supplier": "x", "warehouse": 3},  # 10
            {"id": "G7", "title": "  Padded title  ", "price": 12.5, "tags": ["a", " ", "b "], "in_stock": False},  # 11
        ],
    )


def test_jsonl_reports_every_bad_row_by_line(messy_jsonl: Path) -> None:
    catalog = load_catalog(messy_jsonl)
    errors = _errors(catalog)

    assert sorted(errors) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert errors[2].product_id is None and "id" in errors[2].message
    assert errors[3].product_id == "B2" and "title" in errors[3].message
    assert errors[5].product_id == "A1" and errors[5].message == "duplicate id"
    assert errors[6].product_id == "C3" and "price" in errors[6].message
    assert errors[7].product_id == "D4" and "price" in errors[7].message and "greater than or equal" in errors[7].message
    assert errors[8].message.startswith("bad JSON")
    assert errors[9].message == "row is not a JSON object"
    # JSONL prices are JSON values: a thousands separator in a string is not a number
    assert errors[10].product_id == "F6" and "price" in errors[10].message

    assert [p.id for p in catalog.products] == ["A1", "G7"]
    assert catalog.report.rows == 10  # the blank line is not a row
    assert catalog.report.loaded == 2


def test_jsonl_keeps_the_first_of_duplicate_ids(messy_jsonl: Path) -> None:
    catalog = load_catalog(messy_jsonl)
    assert catalog.get("A1") is not None
    assert catalog.get("A1").title == "Northpeak Down Jacket"


def test_jsonl_unknown_fields_are_reported_and_dropped(messy_jsonl: Path) -> None:
    catalog = load_catalog(messy_jsonl)
    assert catalog.report.ignored_columns == ["supplier", "warehouse"]
    assert "ignored unknown fields: supplier, warehouse" in catalog.report.summary()


def test_jsonl_values_are_cleaned(messy_jsonl: Path) -> None:
    product = load_catalog(messy_jsonl).get("G7")
    assert product is not None
    assert product.title == "Padded title"
    assert product.tags == ("a", "b")
    assert product.in_stock is False
    assert load_catalog(messy_jsonl).get("A1").currency == "USD"


def test_jsonl_nan_and_infinite_prices_are_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "nan.jsonl",
        '{"id": "ok", "title": "fine"}\n{"id": "n", "title": "nan", "price": NaN}\n'
        '{"id": "i", "title": "inf", "price": Infinity}\n',
    )
    assert sorted(_errors(load_catalog(path))) == [2, 3]


def test_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.jsonl", "\ufeff" + json.dumps(GOOD) + "\r\n" + '{"id": "Z", "price": 1}\r\n')
    catalog = load_catalog(path)
    assert [p.id for p in catalog.products] == ["A1"]
    assert list(_errors(catalog)) == [2]


def test_strict_mode_raises_with_every_line_in_the_message(messy_jsonl: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(messy_jsonl, strict=True)
    message = str(caught.value)
    assert "8 bad row(s) in strict mode" in message
    for line in (2, 3, 5, 6, 7, 8, 9, 10):
        assert f"line {line}" in message
    assert "line 5 (id A1): duplicate id" in message


def test_strict_mode_passes_a_clean_file(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "clean.jsonl", [GOOD, {"id": "B", "title": "Tea"}])
    catalog = load_catalog(path, strict=True)
    assert len(catalog) == 2 and catalog.report.errors == []


# ---------------------------------------------------------------- CSV

CSV_TEXT = (
    "id,title,description,price,currency,attributes,tags,in_stock,supplier\n"  # 1
    'P1,Glide 5,"Road shoe, 38 mm stack",139,USD,"{""drop_mm"": 8}", running ; road;;shoes ,yes,acme\n'  # 2
    'P2,Storm Shell,"Line one of the description\n'  # 3
    "line two, still the same cell\n"  # 4
    'line three",279,USD,{},rain jacket,0,\n'  # 5
    "\n"  # 6: blank
    "P3,Bad attrs,,10,USD,{not json},,true,\n"  # 7
    "P4,List attrs,,10,USD,[1],,,\n"  # 8
    "P5,Bad stock,,10,USD,,,maybe,\n"  # 9
    "P6,Bad price,,ten,USD,,,,\n"  # 10
    "P7,Negative,,-5,USD,,,,\n"  # 11
    ",No id,,5,USD,,,,\n"  # 12
    "P8,,,5,USD,,,,\n"  # 13
    "P1,Duplicate,,5,USD,,,,\n"  # 14
    "P9,Too many cells,,5,USD,,,,,extra\n"  # 15
    'P10,Thousands,,"1,299.00",cny,,,F,\n'  # 16
    "P11,Fewer cells\n"  # 17: missing trailing cells are fine
)


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    return _write(tmp_path / "catalog.csv", CSV_TEXT)


def test_csv_reports_every_bad_row_by_line(messy_csv: Path) -> None:
    catalog = load_catalog(messy_csv)
    errors = _errors(catalog)

    assert sorted(errors) == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert errors[7].product_id == "P3" and errors[7].message.startswith("attributes: bad JSON")
    assert errors[8].message == "attributes: must be a JSON object"
    assert errors[9].message == "in_stock: not a boolean: 'maybe'"
    assert errors[10].message == "price: not a number: 'ten'"
    assert errors[11].product_id == "P7" and "price" in errors[11].message
    assert errors[12].product_id is None and "id" in errors[12].message
    assert errors[13].product_id == "P8" and "title" in errors[13].message
    assert errors[14].message == "duplicate id"
    assert errors[15].message == "more cells than header columns"
    assert [p.id for p in catalog.products] == ["P1", "P2", "P10", "P11"]


def test_csv_first_data_row_is_line_2(tmp_path: Path) -> None:
    path = _write(tmp_path / "first.csv", "id,title,price\nA,Alpha,oops\nB,Beta,1\n")
    assert list(_errors(load_catalog(path))) == [2]


def test_csv_line_numbers_after_a_multiline_cell_and_a_blank_line(messy_csv: Path) -> None:
    catalog = load_catalog(messy_csv)
    product = catalog.get("P2")
    assert product is not None
    assert product.description.count("\n") == 2
    # the row right after the three-line cell and the blank line is reported at its own line
    assert _errors(catalog)[7].product_id == "P3"


def test_csv_cells_are_parsed(messy_csv: Path) -> None:
    catalog = load_catalog(messy_csv)
    p1, p2, p10, p11 = (catalog.get(i) for i in ("P1", "P2", "P10", "P11"))
    assert p1.attributes == {"drop_mm": 8}
    assert p1.tags == ("running", "road", "shoes")
    assert p1.in_stock is True
    assert p1.description == "Road shoe, 38 mm stack"
    assert p2.in_stock is False and p2.attributes == {} and p2.tags == ("rain jacket",)
    assert p10.price == 1299.0 and p10.currency == "CNY" and p10.in_stock is False
    assert p11.title == "Fewer cells" and p11.price is None and p11.in_stock is True


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("1", True), ("TRUE", True), ("Yes", True), ("y", True), ("t", True),
     ("0", False), ("false", False), ("NO", False), ("n", False), ("f", False), ("", True)],
)
def test_csv_in_stock_values(tmp_path: Path, cell: str, expected: bool) -> None:
    path = _write(tmp_path / "stock.csv", f"id,title,in_stock\nA,Alpha,{cell}\n")
    assert load_catalog(path, strict=True).get("A").in_stock is expected


def test_csv_unknown_columns_are_reported(messy_csv: Path) -> None:
    assert load_catalog(messy_csv).report.ignored_columns == ["supplier"]


def test_csv_strict_mode_raises(messy_csv: Path) -> None:
    with pytest.raises(CatalogError, match=r"9 bad row\(s\) in strict mode") as caught:
        load_catalog(messy_csv, strict=True)
    assert "line 15: more cells than header columns" in str(caught.value)


def test_tsv_is_read_by_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "catalog.tsv", "id\ttitle\ttags\tprice\nA\tAlpha, with comma\tx;y\t3\n")
    product = load_catalog(path, strict=True).get("A")
    assert product.title == "Alpha, with comma" and product.tags == ("x", "y") and product.price == 3.0


def test_csv_with_bom_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.csv", "\ufeffid,title\nA,Alpha\n")
    assert load_catalog(path, strict=True).get("A") is not None


# ---------------------------------------------------------------- unusable files


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n\n  \n"),
        ("empty.csv", ""),
        ("header_only.csv", "id,title,price\n"),
        ("all_bad.jsonl", '{"title": "no id"}\n'),
    ],
)
def test_files_without_products_raise(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(CatalogError, match="no valid products"):
        load_catalog(_write(tmp_path / name, text))


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.jsonl")


def test_unknown_extension_raises(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="unknown catalog format"):
        load_catalog(_write(tmp_path / "catalog.xml", "<x/>"))


def test_undecodable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps({"id": "A", "title": "Caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(path)


# ---------------------------------------------------------------- the Catalog


def test_version_follows_content(tmp_path: Path) -> None:
    one = _jsonl(tmp_path / "one.jsonl", [GOOD])
    same = _jsonl(tmp_path / "same.jsonl", [GOOD])
    other = _jsonl(tmp_path / "other.jsonl", [{**GOOD, "price": 350}])
    assert load_catalog(one).version == load_catalog(same).version
    assert load_catalog(one).version != load_catalog(other).version


def test_row_error_names_line_and_id() -> None:
    assert str(RowError(4, "duplicate id", "A1")) == "line 4 (id A1): duplicate id"
    assert str(RowError(9, "bad JSON")) == "line 9: bad JSON"


def test_numeric_ids_are_strings_and_boolean_prices_are_rejected(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": 123, "title": "A", "price": 5}\n{"id": "x", "title": "B", "price": true}\n')
    catalog = load_catalog(path)
    assert [p.id for p in catalog.products] == ["123"]
    assert len(catalog.report.errors) == 1 and catalog.report.errors[0].line == 2
    assert "boolean" in catalog.report.errors[0].message


def test_csv_unknown_column_is_reported_even_when_always_empty(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,title,colour\n1,A,\n2,B,\n")
    assert load_catalog(path).report.ignored_columns == ["colour"]


@pytest.mark.parametrize(("currency", "stored"), [("USD", "USD"), ("usd", "USD"), (" cny ", "CNY"), ("", None), ("US", "bad"),
                                                  ("USDX", "bad"), ("U D", "bad")])
def test_currency_schema_says_what_the_model_accepts(currency: str, stored: str | None) -> None:
    """The published schema (OpenAPI, inline products of /v1/copy) and the model agree on every value (a fuzz find)."""
    import jsonschema
    from pydantic import ValidationError

    from service.catalog.product import Product

    schema_ok = jsonschema.Draft202012Validator(Product.model_json_schema()).is_valid(
        {"id": "p", "title": "t", "currency": currency}
    )
    try:
        got = Product(id="p", title="t", currency=currency).currency
    except ValidationError:
        got = "bad"
    assert got == stored and schema_ok == (stored != "bad")
