"""Structured logs: one JSON object per line (python-json-logger), secrets scrubbed from every line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

from pythonjsonlogger.json import JsonFormatter

from service.settings import Settings

SCRUBBED = "****"
_NOISY = ("httpx", "httpx2", "httpcore", "openai", "urllib3", "filelock")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (gunicorn and pytest swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        return None


class ScrubbingFormatter(logging.Formatter):
    """Formats with ``inner``, then replaces every known secret in the line; a last line of defence."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self._inner.format(record)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, SCRUBBED)
        return text


def secrets_of(settings: Settings) -> list[str]:
    """The configured values no log line may contain."""
    found = []
    if settings.openai_api_key:
        found.append(settings.openai_api_key.get_secret_value())
    if settings.user_id_salt:
        found.append(settings.user_id_salt.get_secret_value())
    for url in (settings.redis_url, settings.openai_base_url):
        if url:
            password = urlsplit(url).password
            if password:
                found.append(password)
    return found


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def configure_logging(settings: Settings) -> logging.Handler:
    """Send the process's logs to stderr in the configured format and level; idempotent (replaces its own handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # Ours from an earlier call, or a plain console handler from logging.basicConfig (the CLI's):
        # either would print every line a second time. Other handlers (pytest's capture) stay.
        basic_console = type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.stdout)
        if getattr(handler, "_shopguide", False) or basic_console:
            root.removeHandler(handler)
    inner = (
        json_formatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler = _StderrHandler()
    handler._shopguide = True  # type: ignore[attr-defined]
    handler.setFormatter(ScrubbingFormatter(inner, secrets_of(settings)))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Client libraries log every HTTP call at INFO; keep them to warnings unless debugging.
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
    return handler
