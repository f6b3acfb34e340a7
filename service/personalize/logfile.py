"""A shop's historical interaction log, read as shopper sequences (a :class:`SequenceSource`).

JSONL (one object per line) or CSV (a header row), with the fields ``user_id``, ``product_id``,
``timestamp`` (ISO-8601 or epoch milliseconds), ``type`` (view, click, add_to_cart, purchase,
dismiss, rating; default purchase) and ``value`` (the rating, 1-5). Raw user ids never leave this
module: each shopper is keyed by a hash (:func:`user_key`). A bad row is reported by line number
and skipped; :attr:`LogFile.errors` lists them, and a file with no good row is an error.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from service.errors import CatalogError
from service.personalize.contract import EventType, Interaction, ShopperSequence

_MAX_ERRORS = 50


def user_key(user_id: str) -> str:
    """The opaque key a shopper is known by in training data (never the raw id)."""
    return hashlib.sha256(f"shopguide-user\x1f{user_id}".encode()).hexdigest()[:24]


def parse_timestamp(value: object) -> int:
    """Epoch milliseconds from epoch milliseconds (number or digits) or ISO-8601 (naive = UTC).

    :raises ValueError: for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be a number or ISO-8601 text")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if not text:
        raise ValueError("timestamp is empty")
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@dataclass
class LogFile:
    """Reads ``path`` once, on the first :meth:`sequences` call; a :class:`SequenceSource`."""

    path: Path
    errors: list[str] = field(default_factory=list)
    rows: int = 0
    _sequences: list[ShopperSequence] | None = None

    def sequences(self) -> list[ShopperSequence]:
        """Shoppers' interactions, each shopper's oldest first (order of first appearance in the file).

        :raises CatalogError: if the file cannot be read or holds no usable row.
        """
        if self._sequences is None:
            self._sequences = self._read()
        return self._sequences

    def _read(self) -> list[ShopperSequence]:
        by_user: dict[str, list[Interaction]] = {}
        self.errors, self.rows = [], 0
        try:
            for line, row in _rows(Path(self.path)):
                self.rows += 1
                try:
                    user, interaction = _interaction(row)
                except (ValueError, TypeError, KeyError) as exc:
                    if len(self.errors) < _MAX_ERRORS:
                        self.errors.append(f"line {line}: {exc}")
                    continue
                by_user.setdefault(user_key(user), []).append(interaction)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CatalogError(f"{self.path}: cannot read the interaction log: {exc}") from exc
        if not by_user:
            detail = f" ({self.errors[0]})" if self.errors else ""
            raise CatalogError(f"{self.path}: no usable interaction{detail}")
        return [
            ShopperSequence(key, tuple(sorted(items, key=lambda i: i.timestamp_ms))) for key, items in by_user.items()
        ]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        if first.lstrip().startswith("{"):
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    row = {"__error__": f"not JSON: {exc.msg}"}
                yield number, row if isinstance(row, dict) else {"__error__": "not a JSON object"}
        else:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, dict(row)


def _interaction(row: dict[str, object]) -> tuple[str, Interaction]:
    if "__error__" in row:
        raise ValueError(row["__error__"])
    user = str(row.get("user_id") or "").strip()
    product = str(row.get("product_id") or "").strip()
    if not user:
        raise ValueError("user_id is missing")
    if not product:
        raise ValueError("product_id is missing")
    kind = str(row.get("type") or "purchase").strip().lower()
    try:
        event_type = EventType(kind)
    except ValueError:
        raise ValueError(f"type {kind!r} is not one of {', '.join(t.value for t in EventType)}") from None
    raw_value = row.get("value")
    value = None
    if raw_value not in (None, ""):
        value = float(raw_value)  # type: ignore[arg-type]
        if not 1 <= value <= 5:
            raise ValueError(f"value {value} is not a rating 1-5")
    if event_type is EventType.rating and value is None:
        raise ValueError("a rating needs a value 1-5")
    raw_time = row.get("timestamp")
    if raw_time in (None, ""):
        raise ValueError("timestamp is missing")
    try:
        timestamp = parse_timestamp(raw_time)
    except ValueError:
        raise ValueError(f"timestamp {raw_time!r} is neither epoch milliseconds nor ISO-8601") from None
    return user, Interaction(product_id=product, type=event_type, timestamp_ms=timestamp, value=value)
