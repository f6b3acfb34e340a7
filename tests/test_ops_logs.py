"""service/ops/logs.py: JSON or text lines, secrets scrubbed from every line, configured once."""

from __future__ import annotations

import logging
import uuid

import pytest

from service.ops.logs import ScrubbingFormatter, configure_logging, json_formatter
from tests.support import small_shop
from tests.support.scripted_provider import ScriptedProvider

API_KEY = "sk-" + uuid.uuid4().hex + uuid.uuid4().hex


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    client = small_shop.app(small_shop.settings(log_format="text"), ScriptedProvider()).test_client()
    capsys.readouterr()
    client.post("/v1/recommend", json={"query": "gaming laptop"})
    err = capsys.readouterr().err
    assert "INFO shopguide.access: POST /v1/recommend 200" in err and not err.lstrip().startswith("{")


def test_scrubbing_formatter_replaces_every_secret() -> None:
    formatter = ScrubbingFormatter(json_formatter(), [API_KEY, "redis-pass-123"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s and %s", (API_KEY, "redis-pass-123"), None)
    out = formatter.format(record)
    assert API_KEY not in out and "redis-pass-123" not in out and out.count("****") == 2


def test_configure_logging_is_idempotent_and_replaces_basic_config(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what the CLI's logging.basicConfig installs
    root.addHandler(console)
    try:
        settings = small_shop.settings()
        configure_logging(settings)
        configure_logging(settings)
        ours = [h for h in root.handlers if getattr(h, "_shopguide", False)]
        assert len(ours) == 1 and console not in root.handlers
        capsys.readouterr()
        logging.getLogger("shopguide.test").warning("once")
        assert capsys.readouterr().err.count("once") == 1
    finally:
        root.removeHandler(console)
