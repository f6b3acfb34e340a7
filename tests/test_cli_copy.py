"""``shopguide copy`` as a real subprocess against the scripted upstream: 429 storms, Ctrl-C and resume, CSV."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from service.cli import main
from tests.support.catalogs import write_catalog
from tests.support.copywriter import prompt_product, write_copy
from tests.support.openai_upstream import reply_fn, status

REPO_ROOT = Path(__file__).resolve().parents[1]


def cli_env(upstream) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_"))}
    env.update(
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY="sk-test",
        SHOPGUIDE_PROVIDERS="openai",
        REDIS_URL="",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def copy_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "service", "copy", "--quiet", *args]


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def requested_ids(upstream) -> Counter:
    return Counter(prompt_product(r.body)["id"] for r in upstream.chat_requests)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_200_products_through_a_429_storm(upstream, tmp_path, processes):
    catalog = write_catalog(tmp_path / "catalog.jsonl", 200)
    out = tmp_path / "copy.jsonl"
    upstream.default(reply_fn(write_copy))
    upstream.script(status(429, retry_after=0.3, times=40))
    t0 = time.monotonic()
    done = subprocess.run(
        copy_cmd("--catalog", str(catalog), "--out", str(out), "--concurrency", "16", "--processes", processes),
        env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    records = read_records(out)
    assert len(records) == 200 and len({r["product_id"] for r in records}) == 200
    assert all(r["status"] == "ok" and r["variants"] for r in records)
    assert upstream.calls == 240
    assert "40 rate-limited calls" in done.stderr
    # Everyone paused: after the first 429, no request at all for most of the Retry-After.
    arrivals = [r.received_at for r in upstream.chat_requests]
    assert max(b - a for a, b in zip(arrivals, arrivals[1:])) >= 0.25
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("processes", ["1", "2"])
def test_interrupt_then_resume_loses_nothing_and_duplicates_nothing(upstream, tmp_path, processes):
    catalog = write_catalog(tmp_path / "catalog.jsonl", 200)
    out = tmp_path / "copy.jsonl"
    upstream.default(reply_fn(write_copy))
    upstream.set_latency(0.15)
    proc = subprocess.Popen(
        copy_cmd("--catalog", str(catalog), "--out", str(out), "--concurrency", "8", "--processes", processes),
        env=cli_env(upstream), cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 30):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    first = read_records(out)  # every line parses: a valid file
    assert 30 <= len(first) < 200 and len({r["product_id"] for r in first}) == len(first)

    upstream.set_latency(0.0)
    again = subprocess.run(
        copy_cmd("--catalog", str(catalog), "--out", str(out), "--concurrency", "8"),
        env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} already done" in again.stderr
    records = read_records(out)
    assert len(records) == 200 and len({r["product_id"] for r in records}) == 200
    assert [r["product_id"] for r in records[: len(first)]] == [r["product_id"] for r in first]
    counts = requested_ids(upstream)
    assert len(counts) == 200 and set(counts.values()) == {1}  # no product written twice, none lost


def test_failed_products_are_recorded_and_retried_next_run(upstream, tmp_path):
    catalog = write_catalog(tmp_path / "catalog.jsonl", 6)
    out = tmp_path / "copy.jsonl"

    def flaky(body):
        return status(400) if prompt_product(body)["id"] == "BULK-00003" else write_copy(body)

    upstream.default(reply_fn(flaky))
    args = copy_cmd("--catalog", str(catalog), "--out", str(out))
    first = subprocess.run(args, env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 1 and "1 failed" in first.stderr
    failed = [r for r in read_records(out) if r["status"] == "failed"]
    assert [r["product_id"] for r in failed] == ["BULK-00003"] and "400" in failed[0]["error"]

    kept = subprocess.run([*args, "--no-retry-failed"], env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0 and "6 already done" in kept.stderr

    upstream.default(reply_fn(write_copy))
    retried = subprocess.run(args, env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert retried.returncode == 0, retried.stderr
    records = read_records(out)
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)


def test_csv_output_ids_and_options(upstream, tmp_path):
    catalog = write_catalog(tmp_path / "catalog.jsonl", 10)
    out = tmp_path / "copy.csv"
    upstream.default(reply_fn(write_copy))
    done = subprocess.run(
        copy_cmd(
            "--catalog", str(catalog), "--out", str(out), "--format", "csv", "--ids", "BULK-00001,BULK-00002",
            "--channel", "search_ad", "--variants", "2", "--tone", "premium", "--banned-words", "cheap,最低",
        ),
        env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["product_id"], r["variant"]) for r in rows) == [  # products in completion order
        ("BULK-00001", "1"), ("BULK-00001", "2"), ("BULK-00002", "1"), ("BULK-00002", "2")
    ]
    assert all(len(r["headline"]) <= 30 for r in rows)
    assert (tmp_path / "copy.csv.journal.jsonl").exists()
    sent = upstream.chat_requests[0].body
    assert "search_ad" in sent["messages"][0]["content"] and "cheap" in sent["messages"][1]["content"]


def test_bad_arguments_exit_2(upstream, tmp_path, monkeypatch, capsys):
    """In process (the checks come before any work): the exit status and a message naming the option."""
    for name, value in cli_env(upstream).items():
        monkeypatch.setenv(name, value)
    catalog = write_catalog(tmp_path / "catalog.jsonl", 3)
    args = ["copy", "--quiet", "--catalog", str(catalog), "--out", str(tmp_path / "o.jsonl")]
    assert main([*args, "--ids", "BULK-00001,nope"]) == 2
    assert "--ids: not in the catalog: nope" in capsys.readouterr().err
    assert main([*args, "--variants", "9"]) == 2
    assert "variants" in capsys.readouterr().err
    assert main([*args, "--concurrency", "0"]) == 2
    assert "--concurrency must be at least 1" in capsys.readouterr().err
    assert upstream.calls == 0 and not (tmp_path / "o.jsonl").exists()


def _children_of(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_sigkill_mid_run_leaves_a_resumable_file_and_no_orphans(upstream, tmp_path):
    catalog = write_catalog(tmp_path / "catalog.jsonl", 120)
    out = tmp_path / "copy.jsonl"
    upstream.default(reply_fn(write_copy))
    upstream.set_latency(0.1)
    proc = subprocess.Popen(
        copy_cmd("--catalog", str(catalog), "--out", str(out), "--concurrency", "8", "--processes", "2"),
        env=cli_env(upstream), cwd=REPO_ROOT, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 20):
        time.sleep(0.02)
    children = _children_of(proc.pid)
    assert len(children) == 2
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{c}").exists() for c in children)

    upstream.set_latency(0.0)
    again = subprocess.run(
        copy_cmd("--catalog", str(catalog), "--out", str(out)),
        env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert again.returncode == 0, again.stderr
    records = read_records(out)
    assert len(records) == 120 and len({r["product_id"] for r in records}) == 120


def test_shopify_export_from_a_shopify_import(upstream, tmp_path):
    """Issue 14 item 6: a Shopify export in, copy out as Shopify's import columns (with a BOM, the umask's mode)."""
    from tests.support.shopify import write_shopify

    catalog = write_shopify(tmp_path / "products_export.csv")
    out = tmp_path / "shopify.csv"
    upstream.default(reply_fn(write_copy))
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *copy_cmd("--catalog", str(catalog), "--out", str(out), "--format", "shopify")],
        env=cli_env(upstream), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and (out.stat().st_mode & 0o777) == 0o644
    with out.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["Handle"] for r in rows) == ["trail-bottle", "xueyu-long-down-coat"]
    coat = next(r for r in rows if r["Handle"] == "xueyu-long-down-coat")
    assert coat["Title"] == "雪域 女士长款鹅绒羽绒服" and coat["Body (HTML)"].startswith("<p>") and coat["SEO Title"]
