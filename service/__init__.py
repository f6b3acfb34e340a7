"""shopguide: explained product recommendations and marketing copy over a shop's catalog."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The WSGI app factory (``gunicorn 'service:create_app()'``); imported lazily to keep ``import service`` light."""
    from service.app import create_app as factory

    return factory(*args, **kwargs)
