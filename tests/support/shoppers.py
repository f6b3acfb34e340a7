"""A tiny shop and its shoppers' logs, for the personalization tests (fast: a handful of products)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.personalize.contract import EventType, Interaction, ShopperSequence
from service.retrieve.lexical import LexicalIndex
from service.retrieve.tokenize import Analyzer

DAY_MS = 86_400_000
T0 = 1_750_000_000_000

PRODUCTS = [
    Product(id="tent", title="Two-person trekking tent", category="Outdoor/Camping", brand="Alpina"),
    Product(id="bag", title="Down sleeping bag", category="Outdoor/Camping", brand="Alpina"),
    Product(id="mat", title="Inflatable sleeping mat", category="Outdoor/Camping"),
    Product(id="stove", title="Camping gas stove", category="Outdoor/Camping"),
    Product(id="phone", title="Smartphone 128GB", category="Electronics/Phones"),
    Product(id="case", title="Smartphone case", category="Electronics/Accessories"),
    Product(id="charger", title="USB-C charger 30W", category="Electronics/Accessories"),
    Product(id="mug", title="Ceramic coffee mug", category="Kitchen"),
    # never in any log: reachable only through its text
    Product(id="pillow", title="Inflatable camping pillow", category="Outdoor/Camping"),
    Product(id="gone", title="Sleeping bag liner", category="Outdoor/Camping", in_stock=False),
]


@functools.cache
def catalog() -> Catalog:
    return Catalog.of(PRODUCTS)


@functools.cache
def lexical() -> LexicalIndex:
    """The tiny shop's BM25 index, built once (English only: jieba's dictionary never loads)."""
    return LexicalIndex.build(catalog(), Analyzer())


def seq(user: str, *steps: str | tuple[str, EventType], start_ms: int = T0) -> ShopperSequence:
    """A shopper's steps one minute apart; a bare id is a purchase."""
    interactions = []
    for i, step in enumerate(steps):
        pid, kind = (step, EventType.purchase) if isinstance(step, str) else step
        interactions.append(Interaction(product_id=pid, type=kind, timestamp_ms=start_ms + 60_000 * i))
    return ShopperSequence(user, tuple(interactions))


def campers_and_phones() -> list[ShopperSequence]:
    """Campers buy tent -> bag -> mat -> stove; phone buyers phone -> case -> charger; the mug sells to all."""
    logs = []
    for i in range(6):
        logs.append(seq(f"c{i}", "tent", "bag", "mat", "stove", "mug"))
    for i in range(6):
        logs.append(seq(f"p{i}", "phone", "case", "charger", "mug"))
    logs.append(seq("m0", "mug"))
    return logs


def history(*steps: str | tuple[str, EventType]) -> list[Interaction]:
    return list(seq("me", *steps, start_ms=T0 + 30 * DAY_MS).interactions)


def write_log(path: Path, sequences: list[ShopperSequence]) -> Path:
    """The sequences as a JSONL interaction log (raw user ids, ISO or epoch timestamps alternating)."""
    lines = []
    for n, sequence in enumerate(sequences):
        for i, interaction in enumerate(sequence.interactions):
            row = {
                "user_id": sequence.user_key,
                "product_id": interaction.product_id,
                "type": interaction.type.value,
                "timestamp": interaction.timestamp_ms,
            }
            if (n + i) % 2:
                from datetime import datetime, timezone

                row["timestamp"] = datetime.fromtimestamp(interaction.timestamp_ms / 1000, timezone.utc).isoformat()
            if interaction.value is not None:
                row["value"] = interaction.value
            lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_catalog(path: Path) -> Path:
    path.write_text("\n".join(p.model_dump_json() for p in PRODUCTS) + "\n", encoding="utf-8")
    return path
