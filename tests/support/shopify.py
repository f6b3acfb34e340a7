"""A Shopify product export (its real column set), for tests of the import and of the Shopify copy export."""

from __future__ import annotations

import csv
from pathlib import Path

# The columns of Shopify's product CSV template (2024+), two products, one with three variant rows.
SHOPIFY_HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
    "Variant SKU", "Variant Grams", "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy",
    "Variant Fulfillment Service", "Variant Price", "Variant Compare At Price", "Variant Requires Shipping",
    "Variant Taxable", "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card",
    "SEO Title", "SEO Description", "Google Shopping / Gender", "Variant Image", "Variant Weight Unit",
    "Variant Tax Code", "Cost per item", "Status",
]


def shopify_row(**cells: str) -> list[str]:
    return [cells.get(column, "") for column in SHOPIFY_HEADER]


SHOPIFY_ROWS = [
    shopify_row(**{
        "Handle": "xueyu-long-down-coat", "Title": "雪域 女士长款鹅绒羽绒服",
        "Body (HTML)": "<p>90%白鹅绒，充绒量<strong>280g</strong>。</p><ul><li>防泼水</li><li>毛领可拆卸 &amp; 双向拉链</li></ul>"
        "<script>alert(1)</script>",
        "Vendor": "雪域", "Product Category": "Apparel & Accessories > Clothing > Outerwear > Coats & Jackets",
        "Type": "羽绒服", "Tags": "羽绒服, 保暖,冬季", "Published": "TRUE", "Option1 Name": "Size", "Option1 Value": "S",
        "Option2 Name": "Color", "Option2 Value": "黑色", "Variant SKU": "XY-S-BK", "Variant Inventory Qty": "0",
        "Variant Price": "1899.00", "Image Src": "https://cdn.shopify.com/xy.jpg", "SEO Title": "x", "Status": "active",
    }),
    shopify_row(**{"Handle": "xueyu-long-down-coat", "Option1 Value": "M", "Option2 Value": "黑色", "Variant SKU": "XY-M-BK",
                   "Variant Inventory Qty": "4", "Variant Price": "1899.00"}),
    shopify_row(**{"Handle": "xueyu-long-down-coat", "Option1 Value": "L", "Option2 Value": "燕麦色", "Variant SKU": "XY-L-OT",
                   "Variant Inventory Qty": "2", "Variant Price": "1999.00", "Image Src": "https://cdn.shopify.com/xy2.jpg"}),
    shopify_row(**{
        "Handle": "trail-bottle", "Title": "Trailhead Bottle 750 ml", "Body (HTML)": "Keeps drinks cold&nbsp;for 24 h.",
        "Vendor": "Trailhead", "Type": "Bottles", "Tags": "outdoor", "Option1 Name": "Title", "Option1 Value": "Default Title",
        "Variant Price": "29", "Variant Inventory Qty": "10", "Status": "draft",
    }),
]


def write_shopify(path: Path, rows=SHOPIFY_ROWS) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # Shopify's export has a BOM
        writer = csv.writer(fh)
        writer.writerow(SHOPIFY_HEADER)
        writer.writerows(rows)
    return path
