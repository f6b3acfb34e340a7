"""The output file of a bulk run: append-only JSONL, one record per product, resumable.

Each record is written with one ``write`` of a whole line and flushed, so an
interrupted run (Ctrl-C, a kill, a crash) leaves every finished product on disk
and at worst a torn last line. Opening the file again:

- drops a torn last line (the product it held is simply written again);
- skips every product that has a record;
- with ``retry_failed`` (the default), removes the failed records first, by an
  atomic rewrite, so those products are tried again and the file still holds
  exactly one record per product.

CSV output is rendered from this journal (see :func:`render_csv`): a CSV cell
may span lines, so a torn CSV could not be resumed safely, while a JSONL line can.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from service.bulk.records import BOM, CSV_COLUMNS, SHOPIFY_COLUMNS, Finished, csv_rows, shopify_rows
from service.respond.copy import CopyRecord


class JournalError(ValueError):
    """The output file exists but is not a journal this tool wrote (a bad line before the last)."""


def _read(path: Path) -> tuple[list[CopyRecord], int]:
    """The records, and the byte length of the file's intact part (a torn last line excluded).

    :raises JournalError: when a line other than the last is not a record.
    """
    data = path.read_bytes()
    records: list[CopyRecord] = []
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        end = len(data) if newline == -1 else newline + 1
        line = data[pos:end].strip()
        if line:
            try:
                records.append(CopyRecord.model_validate_json(line))
            except ValidationError as exc:
                if data[end:].strip():
                    number = data.count(b"\n", 0, pos) + 1
                    raise JournalError(f"{path}: line {number} is not a copy record: {exc.errors()[0]['msg']}") from None
                break  # a torn last line from an interrupted write
        pos = end
    return records, pos


class Journal:
    """Append-only JSONL of :class:`CopyRecord`; one line per product."""

    def __init__(self, path: Path, statuses: dict[str, str], handle: IO[bytes]) -> None:
        self.path = path
        self._statuses = statuses  # product id -> status of its record
        self._fh = handle

    @classmethod
    def open(cls, path: str | Path, *, retry_failed: bool = True) -> Journal:
        """Open (or create) ``path`` for appending, after repairing and, with ``retry_failed``, compacting it.

        :raises JournalError: when the file holds something other than copy records.
        """
        path = Path(path)
        records: dict[str, CopyRecord] = {}
        statuses: dict[str, str] = {}
        if path.exists() and path.stat().st_size:
            found, good = _read(path)
            drop = False
            for record in found:
                if record.product_id in records:
                    drop = True  # a duplicate from outside this tool; the first record wins
                    continue
                if retry_failed and record.status == "failed":
                    drop = True
                    continue
                records[record.product_id] = record
            statuses = {pid: record.status for pid, record in records.items()}
            if drop:
                _rewrite(path, records.values())
            else:
                with path.open("r+b") as fh:
                    fh.truncate(good)
                    if good:
                        fh.seek(good - 1)
                        if fh.read(1) != b"\n":
                            fh.write(b"\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, statuses, path.open("ab"))

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._statuses

    def __len__(self) -> int:
        return len(self._statuses)

    def append(self, record: Finished) -> bool:
        """Write one product's record (flushed); False (nothing written) when the product already has one."""
        if record.product_id in self._statuses:
            return False
        self._fh.write(record.line + b"\n")
        self._fh.flush()
        self._statuses[record.product_id] = record.status
        return True

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (reading it means setting it: done under a lock, and put back at once)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _atomic_write(path: Path, chunks: Iterator[bytes]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes it 0600; the user's umask decides
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rewrite(path: Path, records: object) -> None:
    _atomic_write(path, (r.model_dump_json().encode() + b"\n" for r in records))  # type: ignore[attr-defined]


def render_csv(
    journal_path: str | Path,
    csv_path: str | Path,
    *,
    layout: str = "csv",
    title_of: Callable[[str], str | None] = lambda product_id: None,
) -> int:
    """Write the journal's records as CSV (atomically: readers never see half a file); returns the rows written.

    ``layout``: ``csv`` (one row per variant, :data:`CSV_COLUMNS`) or ``shopify`` (Shopify's product import
    columns, one row per product with copy; ``title_of`` gives each product's own title). The file starts with a
    UTF-8 byte-order mark (Excel) and gets the user's umask, like any file the user writes.
    """
    records, _ = _read(Path(journal_path))
    target = Path(csv_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    if layout == "shopify":
        columns: tuple[str, ...] = SHOPIFY_COLUMNS
        row_of: Callable[[CopyRecord], Iterable[list[str]]] = functools.partial(shopify_rows, title_of=title_of)
    else:
        columns, row_of = CSV_COLUMNS, csv_rows

    def chunks() -> Iterator[bytes]:
        nonlocal rows
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            for row in row_of(record):
                writer.writerow(row)
                rows += 1
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    _atomic_write(target, chunks())
    return rows
