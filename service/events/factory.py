"""The event store for the settings: Redis when REDIS_URL is set, else the in-process store."""

from __future__ import annotations

import redis

from service.cache.store import redis_client
from service.events.redis_store import RedisEventStore
from service.events.store import EventStore, MemoryEventStore, StoreLimits
from service.settings import Settings


def build_event_store(settings: Settings, client: redis.Redis | None) -> EventStore:
    limits = StoreLimits.from_settings(settings)
    if client is None or not settings.redis_url:
        return MemoryEventStore(limits)
    # Batches are written with a patient client: a busy Redis that runs a batch slowly is still storing it.
    writer = redis_client(settings.redis_url, socket_timeout_s=WRITE_TIMEOUT_S)
    return RedisEventStore(client, settings.cache_prefix, limits, writer=writer)


WRITE_TIMEOUT_S = 5.0
