"""Two small products with known facts, for copy tests (an English power bank, a Chinese down jacket)."""

from __future__ import annotations

from service.catalog.product import Product

POWER_BANK = Product(
    id="PB-1",
    title="VoltGo Slim Power Bank",
    description="A slim 5000mAh power bank with USB-C, 20W fast charging, weighs 120g.",
    brand="VoltGo",
    category="Electronics/Power",
    price=29.0,
    currency="USD",
    attributes={"capacity_mah": 5000, "output_w": 20, "ports": ["USB-C", "USB-A"], "color": "graphite"},
    tags=("power bank", "travel"),
    lang="en",
)
JACKET_ZH = Product(
    id="ZH-1",
    title="雪域 女士长款鹅绒羽绒服",
    description="90%白鹅绒，充绒量280g，适合零下25℃的北方冬天。",
    brand="雪域",
    price=1899.0,
    currency="CNY",
    attributes={"fill_type": "白鹅绒", "fill_weight_g": 280, "length": "长款"},
    tags=("羽绒服", "保暖"),
    lang="zh",
)
