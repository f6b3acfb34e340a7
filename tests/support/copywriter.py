"""A stand-in for a model that follows the copy prompt: valid, grounded copy from the product block.

Used as the scripted upstream's ``reply_fn`` by tests and ``bench/copy_bulk.py``:
the answer depends on what shopguide sent (the product, the variant count in the
response schema, the language and the length limits in the system prompt).
"""

from __future__ import annotations

import json
import re
from typing import Any

_PRODUCT = re.compile(r"<product>\n(.*?)\n</product>", re.S)
_LIMIT = {
    "headline": re.compile(r'- "headline": at most (\d+)'),
    "body": re.compile(r'- "body": at most (\d+)'),
    "cta": re.compile(r'- "cta": at most (\d+)'),
}
_KEYWORDS = re.compile(r"<keywords>\n(.*?)\n</keywords>", re.S)
_BULLETS = re.compile(r'- "bullets": (\d+) to (\d+) items, each at most (\d+)')


def _message(body: dict[str, Any], role: str) -> str:
    return next((m["content"] for m in body["messages"] if m["role"] == role), "")


def prompt_product(body: dict[str, Any]) -> dict[str, Any]:
    """The product facts shopguide put in the first user message."""
    block = _PRODUCT.search(_message(body, "user"))
    return json.loads(block.group(1)) if block else {}


def requested_variants(body: dict[str, Any]) -> int:
    """How many variants the response schema asks for."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    return int(schema.get("properties", {}).get("variants", {}).get("minItems", 1))


def _limits(system: str) -> dict[str, int]:
    out = {name: int(m.group(1)) if (m := rx.search(system)) else 1000 for name, rx in _LIMIT.items()}
    bullets = _BULLETS.search(system)
    out["bullets_min"], out["bullets_max"], out["bullet_max"] = (
        (int(bullets.group(1)), int(bullets.group(2)), int(bullets.group(3))) if bullets else (0, 3, 100)
    )
    return out


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n].rstrip()


def write_copy(body: dict[str, Any]) -> dict[str, Any]:
    """Copy in the output contract: titles, description sentences and attribute values, within the limits."""
    system = _message(body, "system")
    chinese = "Simplified Chinese" in system
    limits = _limits(system)
    product = prompt_product(body)
    title = product.get("title", "")
    brand = product.get("brand", "")
    description = product.get("description") or title
    points = [v for v in (product.get("attributes") or {}).values() if isinstance(v, str)]
    points += list(product.get("tags") or [])
    if len(points) < limits["bullets_min"]:
        points += [title] * limits["bullets_min"]
    bullets = [_cut(p, limits["bullet_max"]) for p in points[: max(limits["bullets_min"], min(3, limits["bullets_max"]))]]
    openers = ["", "新品推荐：", "为你挑选："] if chinese else ["", "Meet the ", "Discover the "]
    ctas = ["立即购买", "加入购物车", "马上看看"] if chinese else ["Shop now", "Add to cart", "See more"]
    # Variants differ, as the prompt asks: each leads with other facts (the description, the attributes, the tags).
    sep = "，" if chinese else ", "
    end = "。" if chinese else "."
    angles = [
        description,
        (title + (": " if not chinese else "：") + sep.join(points)) + end if points else f"{title}{end}",
        sep.join([*(product.get("tags") or []), brand or title]) + end,
        sep.join(reversed(points)) + end if points else f"{brand} {title}{end}",
        " · ".join(p for p in (product.get("category") or "").split("/") if p) or f"{brand}{end}",
    ]
    block = _KEYWORDS.search(_message(body, "user"))
    keywords = json.loads(block.group(1)) if block else []
    if keywords:  # every angle names the keywords, as the prompt asks
        angles = [a if all(k.lower() in a.lower() for k in keywords) else f"{sep.join(keywords)}{sep}{a}" for a in angles]
    variants = []
    for i in range(requested_variants(body)):
        head = f"{openers[i % 3]}{title}" if i % 3 else (f"{brand} {title}".strip() if brand and brand not in title else title)
        turn = i % len(bullets) if bullets else 0
        variants.append(
            {
                "headline": _cut(head, limits["headline"]),
                "body": _cut(angles[i % len(angles)], limits["body"]),
                "bullets": bullets[turn:] + bullets[:turn],
                "cta": _cut(ctas[i % 3], limits["cta"]),
            }
        )
    return {"variants": variants}
