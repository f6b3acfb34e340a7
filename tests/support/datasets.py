"""The public evaluation datasets (``/work/shared/datasets``) where this machine has them, else a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigError
from service.evaluation.datasets import resolve_datasets_dir
from service.settings import load_settings


def public_datasets_dir() -> Path:
    """``SHOPGUIDE_DATASETS_DIR``, else the nearest ``shared/datasets``; skips the test when there is none."""
    try:
        return resolve_datasets_dir(load_settings().datasets_dir)
    except ConfigError as exc:
        pytest.skip(f"public datasets absent (../shared/datasets not found): {exc}")
