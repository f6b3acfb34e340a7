"""Issue 14 item 6: Shopify product exports, --map for other column names, Shopify export of copy, BOM, umask."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys

import pytest

from service.bulk.journal import Journal, render_csv
from service.bulk.records import finished
from service.catalog.columns import html_to_text, parse_column_map
from service.catalog.load import load_catalog, write_catalog
from service.copywriting.schema import CopyChecks
from service.errors import CatalogError
from service.respond.copy import CopyRecord, CopyVariantOut
from service.settings import REPO_ROOT
from tests.support.shopify import SHOPIFY_ROWS, shopify_row, write_shopify


def test_a_shopify_export_loads_with_variants_folded_per_handle(tmp_path):
    catalog = load_catalog(write_shopify(tmp_path / "products_export.csv"))
    report = catalog.report
    assert report.format == "shopify" and report.errors == [] and report.ignored_columns == []
    assert "ignored unknown fields" not in report.summary()
    coat, bottle = catalog.products
    assert coat.id == "xueyu-long-down-coat" and coat.title == "雪域 女士长款鹅绒羽绒服" and coat.brand == "雪域"
    assert coat.description == "90%白鹅绒，充绒量280g。\n防泼水\n毛领可拆卸 & 双向拉链"  # tags and script gone
    assert coat.category == "Apparel & Accessories/Clothing/Outerwear/Coats & Jackets"
    assert coat.tags == ("羽绒服", "保暖", "冬季") and coat.price == 1899.0 and coat.in_stock
    assert coat.attributes == {
        "type": "羽绒服", "price_max": 1999.0, "Size": ["S", "M", "L"], "Color": ["黑色", "燕麦色"],
        "skus": ["XY-S-BK", "XY-M-BK", "XY-L-OT"],
    }
    assert coat.image_url == "https://cdn.shopify.com/xy.jpg"
    assert bottle.category == "Bottles" and bottle.description == "Keeps drinks cold for 24 h." and bottle.price == 29.0
    assert not bottle.in_stock  # a draft is not for sale
    assert "Title" not in bottle.attributes  # Shopify's "Default Title" option of a product without variants


def test_a_bad_shopify_row_is_reported_by_line(tmp_path):
    rows = [*SHOPIFY_ROWS, shopify_row(**{"Handle": "broken", "Title": "Broken", "Variant Price": "cheap"}),
            shopify_row(**{"Title": "No handle"})]
    catalog = load_catalog(write_shopify(tmp_path / "p.csv", rows))
    assert [(e.line, e.message) for e in catalog.report.errors] == [
        (6, "Variant Price: not a number: 'cheap'"), (7, "Handle: empty")
    ]
    assert len(catalog) == 2


def test_a_column_map_reads_other_exports(tmp_path):
    path = tmp_path / "erp.csv"
    path.write_text("SKU,Product Name,Retail Price,Maker\nA-1,Down Vest,129,Alder & Pike\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="ignored unknown fields"):  # no id, no title: nothing loads unmapped
        load_catalog(path)
    columns = parse_column_map("SKU=id, Product Name=title,Retail Price=price,Maker=brand")
    product = load_catalog(path, columns=columns).products[0]
    assert (product.id, product.title, product.price, product.brand) == ("A-1", "Down Vest", 129.0, "Alder & Pike")
    assert parse_column_map('{"SKU": "id"}') == {"SKU": "id"}
    with pytest.raises(ValueError, match="unknown product field"):
        parse_column_map("SKU=sku")
    with pytest.raises(ValueError, match="COLUMN=field"):
        parse_column_map("SKU")


def test_html_to_text():
    assert html_to_text("<div>One<br>two</div><p>&lt;three&gt;</p>") == "One\ntwo\n<three>"
    assert html_to_text("plain   text") == "plain text"


def test_catalog_import_command_and_files_follow_the_umask(tmp_path):
    source = write_shopify(tmp_path / "products_export.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPGUIDE_")} | {"PYTHONPATH": str(REPO_ROOT)}
    for out in (tmp_path / "catalog.jsonl", tmp_path / "catalog.csv"):
        done = subprocess.run(
            [sys.executable, "-c", "import os, sys; os.umask(0o022); from service.cli import main; sys.exit(main())",
             "catalog", "import", str(source), "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "wrote 2 products" in done.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        again = load_catalog(out)
        assert [p.id for p in again.products] == ["xueyu-long-down-coat", "trail-bottle"]
        assert again.products[0].attributes["Size"] == ["S", "M", "L"]
    assert (tmp_path / "catalog.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def _record(product_id: str, body: str) -> CopyRecord:
    variant = CopyVariantOut(headline="雪域长款鹅绒羽绒服", body=body, bullets=["防泼水", "<b>可拆卸</b>"], cta="立即购买",
                             checks=CopyChecks())
    return CopyRecord(product_id=product_id, status="ok", variants=[variant])


def test_copy_renders_as_a_shopify_import_with_a_bom_and_the_umask(tmp_path):
    journal_path = tmp_path / "copy.csv.journal.jsonl"
    with Journal.open(journal_path) as journal:
        journal.append(finished(_record("xueyu-long-down-coat", "90%白鹅绒。\n零下25℃也从容。")))
        journal.append(finished(CopyRecord.failure("trail-bottle", "no provider")))
    old = os.umask(0o022)
    try:
        render_csv(journal_path, tmp_path / "shopify.csv", layout="shopify", title_of={"xueyu-long-down-coat": "雪域 羽绒服"}.get)
        render_csv(journal_path, tmp_path / "copy.csv")
    finally:
        os.umask(old)
    for name in ("shopify.csv", "copy.csv"):  # was 0600 (mkstemp)
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
        assert (tmp_path / name).read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 Chinese
    with (tmp_path / "shopify.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{
        "Handle": "xueyu-long-down-coat", "Title": "雪域 羽绒服",
        "Body (HTML)": "<p>90%白鹅绒。</p><p>零下25℃也从容。</p><ul><li>防泼水</li><li>&lt;b&gt;可拆卸&lt;/b&gt;</li></ul>",
        "SEO Title": "雪域长款鹅绒羽绒服", "SEO Description": "90%白鹅绒。 零下25℃也从容。",
    }]  # the failed product is left out, so an import never blanks its description
    # and what Shopify would re-import reads back as the same description
    assert html_to_text(rows[0]["Body (HTML)"]) == "90%白鹅绒。\n零下25℃也从容。\n防泼水\n<b>可拆卸</b>"


def test_write_catalog_round_trips(tmp_path):
    catalog = load_catalog(write_shopify(tmp_path / "p.csv"))
    for name in ("c.jsonl", "c.csv"):
        write_catalog(catalog.products, tmp_path / name)
        assert load_catalog(tmp_path / name).products == catalog.products
    assert json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])["id"] == "xueyu-long-down-coat"
