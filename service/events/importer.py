"""``shopguide events import``: a shop's historical log (JSONL or CSV) into the event store, resumably.

Rows go through the same checks as POST /v1/events, in batches. Each row's event_id defaults to one
derived from the file and the line, so a row imported twice (a resumed or repeated import) is stored
once. After each stored batch the position is saved next to the file; a later run with the same file
resumes after it. Bad rows are reported by line number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from service.events.ingest import EventIngest
from service.events.schema import RejectedEvent
from service.events.store import EventStoreUnavailable

Format = Literal["jsonl", "csv"]
_FINGERPRINT_BYTES = 1 << 20
_INT_FIELDS = ("position",)
_FLOAT_FIELDS = ("value",)


@dataclass(frozen=True)
class Row:
    line: int
    end_offset: int  # byte offset just past this row
    data: Any  # the parsed object, or None when the line could not be parsed
    error: str | None = None


@dataclass
class ImportState:
    """Where an import of one file stands; saved after each stored batch."""

    file: str  # fingerprint of the file (size and first MiB)
    offset: int = 0
    line: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    done: bool = False

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ImportState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


@dataclass
class ImportReport:
    state: ImportState
    resumed_at: int  # the line the run started after (0: from the start)
    already_done: bool = False  # a finished import of this very file: nothing was read
    bad_rows: list[RejectedEvent] = field(default_factory=list)  # index = line number


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(_FINGERPRINT_BYTES))
    return digest.hexdigest()[:24]


def default_state_path(path: Path) -> Path:
    return path.with_name(path.name + ".import-state.json")


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() in {".csv", ".tsv"} else "jsonl"


def rows(path: Path, fmt: Format, offset: int = 0, first_line: int = 1) -> Iterator[Row]:
    """The file's rows from byte ``offset`` (numbered from ``first_line``), blank lines skipped."""
    with path.open("rb") as fh:
        header: list[str] | None = None
        if fmt == "csv":
            head = fh.readline()
            header = [h.strip().lower() for h in next(csv.reader([head.decode("utf-8-sig")]))]
            if offset == 0:
                offset, first_line = fh.tell(), 2
        fh.seek(offset)
        line_no = first_line - 1
        position = offset
        for raw in fh:
            line_no += 1
            position += len(raw)
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            if header is None:
                try:
                    yield Row(line_no, position, json.loads(text))
                except ValueError as exc:
                    yield Row(line_no, position, None, f"not JSON: {exc}")
                continue
            values = next(csv.reader(io.StringIO(text)))
            if len(values) != len(header):
                yield Row(line_no, position, None, f"{len(values)} columns where the header has {len(header)}")
                continue
            yield Row(line_no, position, _typed(dict(zip(header, values))))


def _typed(record: dict[str, str]) -> dict[str, Any]:
    """A CSV row as an event: empty cells left out, numbers where the contract wants numbers."""
    out: dict[str, Any] = {k: v.strip() for k, v in record.items() if v.strip()}
    for name in _INT_FIELDS:
        if name in out and out[name].lstrip("-").isdigit():
            out[name] = int(out[name])
    for name in _FLOAT_FIELDS:
        if name in out:
            try:
                out[name] = float(out[name])
            except ValueError:
                pass  # left as text: the check names the field
    return out


class EventImporter:
    """Imports one file through ``ingest``; ``progress(bytes)`` is told how far it got."""

    def __init__(
        self,
        ingest: EventIngest,
        *,
        batch_size: int = 500,
        timestamp_unit: Literal["ms", "s"] = "ms",
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ingest = ingest
        self._batch_size = batch_size
        self._seconds = timestamp_unit == "s"
        self._retries = retries
        self._sleep = sleep

    def run(
        self,
        path: Path,
        *,
        fmt: Format | None = None,
        state_path: Path | None = None,
        restart: bool = False,
        progress: Callable[[int], None] = lambda _done: None,
    ) -> ImportReport:
        """Import ``path``, resuming from its saved state unless ``restart``.

        :raises EventStoreUnavailable: when the store stayed unreachable (the state says where to resume).
        """
        fmt = fmt or detect_format(path)
        state_path = state_path or default_state_path(path)
        print_ = fingerprint(path)
        state = None if restart else ImportState.load(state_path)
        if state is None or state.file != print_:
            state = ImportState(file=print_)
        report = ImportReport(state, resumed_at=state.line, already_done=state.done)
        if state.done:
            return report
        progress(state.offset)
        batch: list[Row] = []
        for row in rows(path, fmt, state.offset, state.line + 1):
            batch.append(row)
            if len(batch) == self._batch_size:
                self._store(batch, state, report, state_path)
                progress(state.offset)
                batch = []
        if batch:
            self._store(batch, state, report, state_path)
        state.done = True
        state.save(state_path)
        progress(state.offset)
        return report

    def _store(self, batch: list[Row], state: ImportState, report: ImportReport, state_path: Path) -> None:
        bad = [RejectedEvent(index=r.line, field=None, message=r.error or "") for r in batch if r.data is None]
        good = [r for r in batch if r.data is not None]
        events = [self._event(r, state.file) for r in good]
        checked = self._ingest.check(events, indexes=[r.line for r in good])
        for attempt in range(self._retries + 1):
            try:
                done = self._ingest.store_checked(checked)
                break
            except EventStoreUnavailable:
                if attempt == self._retries:
                    raise
                self._sleep(min(0.5 * 2**attempt, 8.0))
        rejected = sorted(bad + done.rejected, key=lambda r: r.index)
        report.bad_rows.extend(rejected)
        state.accepted += done.accepted
        state.duplicates += done.duplicates
        state.rejected += len(rejected)
        state.line, state.offset = batch[-1].line, batch[-1].end_offset
        state.save(state_path)

    def _event(self, row: Row, file_print: str) -> Any:
        data = row.data
        if not isinstance(data, dict):
            return data  # the check names it
        event = dict(data)
        event.setdefault("event_id", f"import:{file_print}:{row.line}")
        ts = event.get("timestamp")
        if self._seconds and ts is not None:
            if isinstance(ts, str) and ts.strip().isdigit():
                ts = int(ts)
            if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                event["timestamp"] = int(ts * 1000)
        return event
