"""The command line's entry point: what every command shares (its log lines, its exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_a_command_prints_its_own_warnings_not_library_debug_lines(tmp_path: Path) -> None:
    """bm25s sets its logger to DEBUG on import; a command's stderr used to carry "DEBUG bm25s: Building index"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_"))}
    env.update(
        SHOPGUIDE_PROVIDERS="openai", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        SHOPGUIDE_INDEX_DIR=str(tmp_path / "index"),  # empty: the index is built, and bm25s logs it
    )
    done = subprocess.run(
        [sys.executable, "-m", "service", "recommend", "warm down jacket", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"items"' in done.stdout
    assert "all providers failed" in done.stderr  # the command's own warning still shows
    assert "DEBUG" not in done.stderr and "bm25s" not in done.stderr, done.stderr
