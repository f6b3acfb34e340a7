"""Synthetic catalogs for bulk tests and benchmarks: plain, grounded products in English and Chinese."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_EN = (
    ("Trail Backpack", "Outdoor/Bags", "A {n}L hiking backpack with a padded hip belt and a rain cover.", {"capacity_l": None, "color": "forest green"}),
    ("Desk Lamp", "Home/Lighting", "An LED desk lamp with three colour temperatures and a USB-C port.", {"color": "white", "power_w": 8}),
    ("Running Socks", "Clothing/Socks", "Cushioned running socks in a pack of {n}, made of a breathable cotton blend.", {"pack": None, "color": "grey"}),
)
_ZH = (
    ("保温杯", "Home/Kitchen", "{n}毫升不锈钢保温杯，适合通勤和出游，杯盖带滤网。", {"capacity_ml": None, "color": "雾蓝"}),
    ("双肩包", "Outdoor/Bags", "通勤双肩包，容量{n}升，背负透气，内置电脑隔层。", {"capacity_l": None, "color": "黑色"}),
)


def synthetic_products(count: int) -> list[dict[str, Any]]:
    """``count`` catalog rows, half English and half Chinese, ids ``BULK-00000``..."""
    rows = []
    for i in range(count):
        zh = i % 2 == 1
        title, category, text, attrs = (_ZH if zh else _EN)[i % len(_ZH if zh else _EN)]
        n = 10 + i % 40
        attributes = {k: (n if v is None else v) for k, v in attrs.items()}
        rows.append(
            {
                "id": f"BULK-{i:05d}",
                "title": f"{'青禾' if zh else 'Northpeak'} {title} {i}",
                "description": text.format(n=n),
                "category": category,
                "brand": "青禾" if zh else "Northpeak",
                "price": float(20 + i % 50),
                "currency": "CNY" if zh else "USD",
                "attributes": attributes,
                "tags": ["通勤", "日常"] if zh else ["everyday", "travel"],
                "lang": "zh" if zh else "en",
            }
        )
    return rows


def write_catalog(path: Path, count: int) -> Path:
    """A JSONL catalog of :func:`synthetic_products`."""
    with path.open("w", encoding="utf-8") as fh:
        for row in synthetic_products(count):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
