"""Cache keys that cover everything that shapes an answer."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any

import orjson

KEY_SCHEMA = "v1"  # bump when the cached payload's shape changes


def normalize_text(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: "  Down  JACKET " == "down jacket"."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def answer_key(prefix: str, endpoint: str, parts: Mapping[str, Any]) -> str:
    """``<prefix>:ans:v1:<endpoint>:<sha256 of the canonical JSON of parts>``."""
    blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return f"{prefix}:ans:{KEY_SCHEMA}:{endpoint}:{hashlib.sha256(blob).hexdigest()}"
