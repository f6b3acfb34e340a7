"""Products with known facts for the grounding tests: an English power bank and a Chinese down jacket."""

from __future__ import annotations

from service.catalog.product import Product


def power_bank(**overrides: object) -> Product:
    data: dict[str, object] = {
        "id": "pb-5000",
        "title": "Anker PowerCore 5000 Portable Charger 2025 Edition",
        "description": "Pocket-size 5000mAh power bank with 18W fast charging. Weighs 150 g.",
        "brand": "Anker",
        "category": "Electronics/Power Banks",
        "price": 199.0,
        "currency": "USD",
        "attributes": {"colors": ["black", "white"], "warranty": "18 months", "ports": 2},
        "tags": ["IPX4", "USB-C"],
    }
    data.update(overrides)
    return Product(**data)


def down_jacket() -> Product:
    return Product(
        id="dj-1",
        title="2025款女士轻薄羽绒服",
        description="90%白鸭绒，蓬松度700，充绒量120克，可抵御零下20℃严寒。",
        price=299.0,
        currency="CNY",
        attributes={"颜色": ["黑色", "米白", "雾蓝"], "原价": 599, "尺码": "S/M/L/XL", "重量(g)": 450},
        tags=["轻薄", "保暖"],
    )
