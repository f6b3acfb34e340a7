"""The bulk output journal: one record per product, flushed lines, torn tails, retries, CSV."""

from __future__ import annotations

import csv
import json

import pytest

from service.bulk.journal import Journal, JournalError, render_csv
from service.bulk.records import csv_lines, finished
from service.copywriting.schema import CopyChecks
from service.respond.copy import CopyRecord, CopyVariantOut


def ok(pid: str) -> CopyRecord:
    variant = CopyVariantOut(
        headline=f"Headline {pid}", body='Body, with "quotes"\nand a newline', bullets=["a", "b"], cta="Buy", checks=CopyChecks()
    )
    return CopyRecord(product_id=pid, status="ok", variants=[variant, variant], checks=CopyChecks(), provider="openai")


def test_append_is_on_disk_at_once_and_skips_duplicates(tmp_path):
    path = tmp_path / "out.jsonl"
    journal = Journal.open(path)
    assert journal.append(finished(ok("a")))
    assert path.read_text().count("\n") == 1  # flushed, not buffered until close
    assert not journal.append(finished(ok("a")))
    journal.append(finished(CopyRecord.failure("b", "boom")))
    journal.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["product_id"] for line in lines] == ["a", "b"]


def test_reopen_skips_done_and_retries_failed(tmp_path):
    path = tmp_path / "out.jsonl"
    with Journal.open(path) as journal:
        journal.append(finished(ok("a")))
        journal.append(finished(CopyRecord.failure("b", "boom")))
    kept = Journal.open(path, retry_failed=False)
    assert "a" in kept and "b" in kept
    kept.close()
    again = Journal.open(path)
    assert "a" in again and "b" not in again
    again.append(finished(ok("b")))
    again.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["product_id"], r["status"]) for r in records] == [("a", "ok"), ("b", "ok")]


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(ok("a").model_dump_json() + "\n" + ok("b").model_dump_json()[:40])
    journal = Journal.open(path)
    assert "a" in journal and "b" not in journal
    journal.append(finished(ok("b")))
    journal.close()
    assert [json.loads(line)["product_id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(ok("a").model_dump_json())
    journal = Journal.open(path)
    journal.append(finished(ok("b")))
    journal.close()
    assert [json.loads(line)["product_id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"not": "a record"}\n' + ok("a").model_dump_json() + "\n")
    with pytest.raises(JournalError, match="line 1"):
        Journal.open(path)


def test_csv_rendering_is_one_row_per_variant(tmp_path):
    path = tmp_path / "out.jsonl"
    with Journal.open(path) as journal:
        journal.append(finished(ok("a")))
        journal.append(finished(CopyRecord.failure("b", "no provider")))
    rows = render_csv(path, tmp_path / "out.csv")
    assert rows == 3
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["product_id"], r["variant"], r["status"]) for r in table] == [("a", "1", "ok"), ("a", "2", "ok"), ("b", "", "failed")]
    assert table[0]["body"] == 'Body, with "quotes"\nand a newline' and table[0]["bullets"] == "a | b"
    assert table[2]["error"] == "no provider"
    streamed = "".join(csv_lines([ok("a"), CopyRecord.failure("b", "no provider")]))
    assert streamed == (tmp_path / "out.csv").read_text()
