"""A stand-in for a model that follows the recommend prompt: picks the first k candidates and explains them.

Used as the scripted upstream's ``reply_fn`` by tests and benchmarks, so answers
depend on what shopguide actually sent (candidates, k, answer language).
"""

from __future__ import annotations

import json
import re
from typing import Any

_CANDIDATES = re.compile(r"<candidates>\n(.*?)\n</candidates>", re.S)
_K = re.compile(r"Choose the (\d+) best")


def prompt_candidates(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidate facts shopguide put in the user message, in order."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    block = _CANDIDATES.search(user)
    return [json.loads(line) for line in block.group(1).splitlines() if line.strip()] if block else []


def pick_first_k(body: dict[str, Any]) -> dict[str, Any]:
    """An answer in the output contract: the first k candidates, reasons in the prompt's language."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    match = _K.search(user)
    k = int(match.group(1)) if match else 5
    chinese = "Simplified Chinese" in system
    items = []
    for product in prompt_candidates(body)[:k]:
        title = product["title"]
        reason = f"这款{title}很符合您的需求。" if chinese else f"{title} fits what you asked for."
        items.append({"id": product["id"], "reason": reason})
    summary = "为您挑选了以下商品。" if chinese else "Here are the best matches."
    return {"items": items, "summary": summary}
