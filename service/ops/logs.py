"""Structured logs: one JSON object per line (python-json-logger), secrets scrubbed from every line.

Every line a shopguide process writes goes through the one root handler :func:`configure_logging`
installs: the service's own, gunicorn's (:func:`gunicorn_logconfig`), RQ's (its worker adds no
handler of its own once the root has one), and libraries that bring their own console handler
(jieba) are moved onto it. Lines logged while a request is served carry its ``request_id``.
Progress bars (tqdm) are drawn only on a terminal, never into a piped or collected log.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import g, has_request_context
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from service.settings import Settings

SCRUBBED = "****"
# Libraries that log every HTTP call, index build or dictionary load at INFO or DEBUG: warnings only unless debugging.
_NOISY = ("httpx", "httpx2", "httpcore", "openai", "urllib3", "filelock", "bm25s", "jieba", "sentence_transformers")
# Libraries that attach a console handler of their own (plain text) and must write through ours instead.
_OWN_CONSOLE = ("jieba",)


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
        # uvicorn (the model server) adds its message again with terminal colour codes as color_message
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


class RequestContext(logging.Filter):
    """Adds the ``request_id`` of the request being served (when there is one) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            rid = g.get("request_id")
            if rid is not None:
                record.request_id = rid
        return True


class QuietLibraries(logging.Filter):
    """Drops the lines of :data:`_NOISY` libraries below ``level``, whatever level their loggers were given.

    bm25s and jieba set their own loggers to DEBUG when imported, which may be after logging was
    configured; a level set on their loggers here would then be undone.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self._level or record.name.partition(".")[0] not in _NOISY


def shopguide_handler(settings: Settings) -> logging.Handler:
    """The handler every line goes through: stderr, the configured format, secrets scrubbed, request ids added."""
    inner = (
        json_formatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler = _StderrHandler()
    handler._shopguide = True  # type: ignore[attr-defined]
    handler.setFormatter(ScrubbingFormatter(inner, secrets_of(settings)))
    handler.addFilter(RequestContext())
    handler.addFilter(QuietLibraries(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING))
    return handler


def progress_bars_on_terminal_only() -> None:
    """tqdm draws a bar only when its stream is a terminal (its own ``disable=None``), not into a piped log.

    Libraries create bars with tqdm's default ``disable=False`` (transformers' GGUF conversion,
    sentence-transformers, bm25s): this changes that default, which tqdm keeps as keyword defaults of
    ``tqdm.__init__`` (where its ``TQDM_*`` variables also land); a caller's explicit ``disable`` still wins.
    """
    try:
        from tqdm import std
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return
    init = std.tqdm.__dict__.get("__init__")
    keywords = getattr(init, "keywords", None)
    if isinstance(keywords, dict):
        keywords.setdefault("disable", None)


def _adopt_library_consoles() -> None:
    for name in _OWN_CONSOLE:
        try:  # imported now: on import it adds its console handler and sets its logger to DEBUG
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - jieba is a dependency
            continue
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True  # and its level follows _NOISY


def route_transformers_logs() -> None:
    """transformers' lines through the root handler: it installs a text console handler of its own and stops
    propagation on first use. Call where the local model is about to load (importing transformers costs
    seconds, so :func:`configure_logging` does not)."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()


def configure_logging(settings: Settings) -> logging.Handler:
    """Send the process's logs to stderr in the configured format and level; idempotent (replaces its own handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # Ours from an earlier call, or a plain console handler from logging.basicConfig (the CLI's):
        # either would print every line a second time. Other handlers (pytest's capture) stay.
        basic_console = type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.stdout)
        if getattr(handler, "_shopguide", False) or basic_console:
            root.removeHandler(handler)
    handler = shopguide_handler(settings)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    _adopt_library_consoles()
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
    progress_bars_on_terminal_only()
    return handler


def status_line(settings: Settings, message: str, **fields: Any) -> str:
    """A line for stdout (a process saying it is ready), in the log format: a JSON object when logs are JSON."""
    if settings.log_format != "json":
        return message
    record = logging.LogRecord("shopguide", logging.INFO, __file__, 0, message, None, None)
    record.__dict__.update({k: v for k, v in fields.items() if v is not None})
    return ScrubbingFormatter(json_formatter(), secrets_of(settings)).format(record)


class ListeningAddress(logging.Filter):
    """Fills in gunicorn's "Listening at:" line, empty when each worker binds its own SO_REUSEPORT socket.

    With ``reuse_port`` and several workers the master opens no listener of its own, so gunicorn
    logs ``Listening at:  (pid)``; the address is the configured bind.
    """

    def __init__(self, bind: str) -> None:
        super().__init__()
        self._bind = bind if bind.startswith(("unix:", "fd://")) else f"http://{bind}"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Listening at:") and record.args:
            args = tuple(record.args) if isinstance(record.args, tuple) else (record.args,)
            if args and not str(args[0]).strip():
                record.args = (self._bind, *args[1:])
        return True


def gunicorn_logconfig(settings: Settings, bind: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own lines (master and workers) through :func:`shopguide_handler`.

    gunicorn installs its text handlers first and then applies this with ``dictConfig``, which replaces
    them: ``gunicorn.error`` and ``gunicorn.access`` keep no handler and propagate to the root's.
    """
    level = settings.log_level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"listening": {"()": ListeningAddress, "bind": bind}},
        "handlers": {"shopguide": {"()": shopguide_handler, "settings": settings}},
        "formatters": {},
        "root": {"level": level, "handlers": ["shopguide"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True, "filters": ["listening"]},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }
