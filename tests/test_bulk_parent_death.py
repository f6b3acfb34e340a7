"""Issue 13 item 8: `shopguide copy`'s child processes die with a SIGKILLed parent and stop calling the upstream."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.catalogs import write_catalog
from tests.support.copywriter import write_copy
from tests.support.openai_upstream import reply_fn
from tests.test_cli_copy import REPO_ROOT, _children_of, cli_env, copy_cmd


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_children_die_with_a_killed_parent_and_call_the_upstream_no_more(upstream, tmp_path: Path) -> None:
    """Before: both children lived on for 77 s+, stuck on the results pipe, working through their queue."""
    catalog = write_catalog(tmp_path / "catalog.jsonl", 200)
    out = tmp_path / "copy.jsonl"
    upstream.default(reply_fn(write_copy))
    upstream.set_latency(0.5)  # every call in flight at the kill would otherwise still be answered and followed by more
    proc = subprocess.Popen(
        copy_cmd("--catalog", str(catalog), "--out", str(out), "--concurrency", "8", "--processes", "2"),
        env=cli_env(upstream), cwd=REPO_ROOT, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and upstream.calls < 16:
            time.sleep(0.02)
        children = _children_of(proc.pid)
        assert len(children) == 2
    finally:
        proc.kill()
        proc.wait(timeout=10)
    killed_at = time.monotonic()
    while time.monotonic() - killed_at < 5 and any(alive(c) for c in children):
        time.sleep(0.01)
    gone_after = time.monotonic() - killed_at
    assert gone_after < 1.0, f"children alive {gone_after:.1f} s after the parent was killed"
    calls = upstream.calls
    time.sleep(1.5)
    assert upstream.calls == calls  # no call started after the children died
