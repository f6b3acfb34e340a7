"""Every worker's recommender kept current with every accepted event, whichever worker accepted it.

A :class:`StreamFollower` reads the Redis event stream after the entry the recommender was built
from (``since``) and blocks on it for new entries, handing each to ``Recommender.observe`` (the
learned recommender counts them and rebuilds in the background). Blocking reads cost nothing while no events arrive. With the in-process
store there is one process, and the ingest step tells the recommender directly.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from service.events.store import StoredEvent
from service.personalize.contract import Recommender

log = logging.getLogger(__name__)

BLOCK_MS = 5000
BATCH = 2000
RETRY_S = 1.0


class StreamFollower:
    """Feeds ``recommender`` from ``stream`` in a daemon thread; :meth:`stop` ends it."""

    def __init__(
        self, client: redis.Redis, stream: str, recommender: Recommender, *, since: str = "0-0", block_ms: int = BLOCK_MS
    ) -> None:
        """``since``: the last entry the recommender already learned from ("0-0": none)."""
        self._client = client
        self._stream = stream
        self._recommender = recommender
        self._block_ms = block_ms
        self._stop = threading.Event()
        self.last_id = since
        self.observed = 0
        self.caught_up = threading.Event()  # set once the log that existed at start has been read
        self._thread = threading.Thread(target=self._run, name="events-follow", daemon=True)

    def start(self) -> StreamFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        logged = 0.0
        while not self._stop.is_set():
            try:
                self._step()
            except redis.RedisError as exc:
                now = time.monotonic()
                if now - logged > 60:
                    logged = now
                    log.warning("event stream unavailable to the recommender", extra={"error": type(exc).__name__})
                self._stop.wait(RETRY_S)
            except Exception:  # a model that fails on one event must not stop learning from the rest
                log.exception("recommender failed to observe events")
                self._stop.wait(RETRY_S)

    def _step(self) -> None:
        block = self._block_ms if self.caught_up.is_set() else None
        reply = self._client.xread({self._stream: self.last_id}, count=BATCH, block=block)
        entries = reply[0][1] if reply else []
        for entry_id, fields in entries:
            event = StoredEvent.decode(fields[b"u"].decode(), fields[b"e"])
            self._recommender.observe(event.user_key, event.interaction)
            self.last_id = entry_id.decode()
            self.observed += 1
        if len(entries) < BATCH and not self.caught_up.is_set():
            self.caught_up.set()
