"""A small shop's category tree and brands for query understanding tests, and helpers to compare what was read."""

from __future__ import annotations

from typing import Any

from service.retrieve.understand import APPROX_BAND, Understood

CATEGORIES = [
    "Clothing/Outerwear/Down",
    "Clothing/Outerwear/Rain Jackets",
    "Clothing/Outerwear/Fleece",
    "Clothing/Tops/Hoodies",
    "Clothing/Socks",
    "Electronics/Computers/Laptops/Gaming",
    "Electronics/Computers/Laptops/Business",
    "Electronics/Computers/Accessories/Mice",
    "Electronics/Computers/Accessories/Monitors",
    "Electronics/Audio/Headphones",
    "Electronics/Audio/Earbuds",
    "Electronics/Phones/Power Banks",
    "Electronics/Phones/Smartphones",
    "Electronics/Phones/Cases",
    "Electronics/TV & Video",
    "Electronics/Cameras/Instant",
    "Electronics/Cameras/Action",
    "Shoes/Running",
    "Shoes/Running/Trail",
    "Shoes/Hiking",
    "Shoes/Casual",
    "Home/Kitchen/Coffee Machines",
    "Grocery/Coffee",
    "Grocery/Tea/Green Tea",
    "Grocery/Tea/Oolong",
    "Beauty/Skincare/Sunscreen",
    "Bags/Backpacks",
    "Bags/Laptop Bags",
    "Sports/Outdoor/Camping/Backpacks",
    "Sports/Outdoor/Camping/Tents",
]


BRANDS = ["Nike", "Adidas", "Sony", "Bose", "Under Armour", "The North Face", "Anker", "雪域", "茗山堂", "X", "7"]

USD = {"currency": "USD"}
CNY = {"currency": "CNY"}


def constraints(understood: Understood) -> dict[str, Any]:
    """Everything found except the cleaned query: compared whole, so nothing extra slips through."""
    found = understood.found()
    found.pop("cleaned_query", None)
    return found


def band(value: float) -> dict[str, float]:
    return {"price_min": round(value * (1 - APPROX_BAND), 2), "price_max": round(value * (1 + APPROX_BAND), 2)}
