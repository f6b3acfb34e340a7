"""Where a streaming pipeline sends its events; the HTTP layer drains them (:mod:`service.stream.sse`).

Event names and data (every data is a JSON object):

- ``understood``: the constraints in force, first;
- ``item``: one validated catalog item (the response's item shape; ``reason`` empty until known), as soon
  as the model has emitted its id; items arrive in the answer's order;
- ``reason``: ``{"id", "delta"}``, a piece of an item's reason;
- ``summary`` (``/v1/recommend``) or ``reply`` (``/v1/chat``): ``{"delta"}``, a piece of the answer's text;
- ``restart``: ``{"reason"}``, what was streamed so far no longer holds (the upstream broke off and was
  retried, or another provider answers); items and text start over;
- ``done``: the full answer, equal to the non-streamed response body;
- ``error``: ``{"error": {code, message, field}}``, the same shape as an HTTP error body; the stream ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

Event = tuple[str, dict[str, Any]]


class Events:
    """A one-way channel of events from the computing thread to the responding one, with cancellation.

    ``cancel()`` (the client left) sets :attr:`cancelled` and runs the closers registered with
    :meth:`on_cancel`, so a call in flight stops at once rather than at its next chunk.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._closer: Callable[[], None] | None = None

    # -- the computing side ----------------------------------------------------------------
    def emit(self, name: str, data: dict[str, Any]) -> None:
        if not self._cancelled.is_set():
            self._queue.put((name, data))

    def close(self) -> None:
        """No more events."""
        self._queue.put(None)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def on_cancel(self, closer: Callable[[], None] | None) -> None:
        with self._lock:
            self._closer = closer
        if closer is not None and self._cancelled.is_set():
            closer()

    # -- the responding side ---------------------------------------------------------------
    def next(self, timeout: float) -> Event | None:
        """The next event; ``("", {})`` when none came within ``timeout``; None at the end."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return ("", {})

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            closer = self._closer
        if closer is not None:
            try:
                closer()
            except Exception:  # noqa: BLE001 - closing a socket another thread reads may fail; it is going anyway
                pass
