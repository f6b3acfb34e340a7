"""pyflakes and import order (ruff, configured in pyproject.toml) hold over the whole tree: an unused import or a
repeated dict key is usually a mistake (one hid a duplicated case in test_settings)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in the dev extra (pip install -e '.[dev]')"
    result = subprocess.run([ruff, "check", "service", "bench", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
