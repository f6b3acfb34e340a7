"""The Redis event store: an append-only stream capped by length and age, and capped, expiring per-shopper keys.

Keys (``<p>`` is SHOPGUIDE_CACHE_PREFIX, ``<u>`` a shopper's keyed hash, never the id)::

    <p>:ev:log         stream   every accepted event: u=<u>, e=<event JSON>   (MAXLEN ~, MINID)
    <p>:ev:u:<u>:hist  list     the shopper's recent events, newest first      (capped, TTL)
    <p>:ev:u:<u>:ids   list     the shopper's stream entry ids, capped as the stream is, so forgetting
                                finds every entry of theirs without scanning the stream
    <p>:ev:u:<u>:seen  zset     event ids stored, by arrival (idempotent retries; capped)
    <p>:ev:u:<u>:dis   set      dismissed products          <p>:ev:u:<u>:buy  set   purchased products
    <p>:ev:u:<u>:imp   list     recent impressions (request id, items in order)
    <p>:ev:u:<u>:ans   set      answer-cache keys of answers personalized for the shopper

A batch is stored by one Lua script, so it is one round trip and atomic: each event is
stored with its history, dedup id and exclusions, or (Redis failing) none of the batch is,
and the client is told to retry. An event is accepted only once Redis has it, so an
accepted event survives the death of the worker that took it (and Redis's own persistence
settings decide the rest). The script touches per-shopper keys it computes itself: fine on
one Redis server or a replicated one, not on Redis Cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import redis

from service.events.store import (
    AppendResult,
    EventStoreUnavailable,
    ImpressionRecord,
    ShopperRecord,
    ShopperState,
    StoredEvent,
    StoreLimits,
    sequences_from,
    state_from,
)
from service.personalize.contract import ShopperSequence

log = logging.getLogger(__name__)

_APPEND = """
local up = ARGV[1]
local maxlen = tonumber(ARGV[2])
local minid = ARGV[3]
local hmax = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local dmax = tonumber(ARGV[6])
local now = ARGV[7]
local events = cjson.decode(ARGV[8])  -- [[user key, event id, type, product id, event JSON], ...]
local out = {}
local touched = {}
for _, e in ipairs(events) do
  local u = e[1]
  local base = up .. u
  if redis.call('ZADD', base .. ':seen', 'NX', now, e[2]) == 1 then
    local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'u', u, 'e', e[5])
    redis.call('LPUSH', base .. ':hist', e[5])
    redis.call('LPUSH', base .. ':ids', sid)
    local kind = e[3]
    if kind == 'dismiss' then
      redis.call('SADD', base .. ':dis', e[4])
    elseif kind == 'purchase' then
      redis.call('SADD', base .. ':buy', e[4])
    end
    touched[u] = true
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for u, _ in pairs(touched) do
  local base = up .. u
  redis.call('LTRIM', base .. ':hist', 0, hmax - 1)
  redis.call('LTRIM', base .. ':ids', 0, maxlen - 1)
  redis.call('ZREMRANGEBYRANK', base .. ':seen', 0, -(dmax + 1))
  for _, suffix in ipairs({':hist', ':ids', ':seen', ':dis', ':buy'}) do
    redis.call('PEXPIRE', base .. suffix, ttl)
  end
end
if minid ~= '0' then
  redis.call('XTRIM', KEYS[1], 'MINID', minid)  -- exact: only entries older than the age cap go
end
return out
"""

# What personalization reads, in one command (a pipeline of three cost twice the client CPU).
_STATE = """
local base = ARGV[1]
return {redis.call('LRANGE', base .. ':hist', 0, tonumber(ARGV[2]) - 1),
        redis.call('SMEMBERS', base .. ':dis'), redis.call('SMEMBERS', base .. ':buy')}
"""

# One command for an impression (a five-command pipeline cost the request ~0.15 ms more of client CPU):
# the record at the head of the shopper's list, the list capped and kept alive, and the answer's cache key
# remembered (so forgetting the shopper also drops the answers their history shaped).
_IMPRESSION = """
local base, ttl = ARGV[1], ARGV[4]
redis.call('LPUSH', base .. ':imp', ARGV[2])
redis.call('LTRIM', base .. ':imp', 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', base .. ':imp', ttl)
if ARGV[5] ~= '' then
  redis.call('SADD', base .. ':ans', ARGV[5])
  redis.call('PEXPIRE', base .. ':ans', ttl)
end
"""

USER_SUFFIXES = ("hist", "ids", "seen", "dis", "buy", "imp", "ans")
_CHUNK = 5000


class RedisEventStore:
    """Events in Redis, shared by every worker and pod."""

    backend = "redis"
    RETRY_AFTER_FAILURE_S = 1.0

    def __init__(
        self, client: redis.Redis, prefix: str, limits: StoreLimits | None = None, *, writer: redis.Redis | None = None
    ) -> None:
        """``client`` reads on the request path (fail fast); ``writer`` (default ``client``) stores batches and
        forgets shoppers, where waiting longer beats telling the client to retry work Redis may have done."""
        self._client = client
        self._writer = writer or client
        self.limits = limits or StoreLimits()
        self.stream = f"{prefix}:ev:log"
        self._user_prefix = f"{prefix}:ev:u:"
        self._append = self._writer.register_script(_APPEND)
        self._state = client.register_script(_STATE)
        self._impression = client.register_script(_IMPRESSION)
        self._down_until = 0.0
        self._last_error: str | None = None

    def user_keys(self, user_key: str) -> list[str]:
        """Every per-shopper key name (for forgetting and for tests)."""
        return [f"{self._user_prefix}{user_key}:{suffix}" for suffix in USER_SUFFIXES]

    # -- writes ------------------------------------------------------------------------------
    def append(self, events: Sequence[StoredEvent]) -> AppendResult:
        if not events:
            return AppendResult(0, 0)
        limits = self.limits
        now = int(time.time() * 1000)
        minid = str(now - limits.stream_max_age_ms) if limits.stream_max_age_ms else "0"
        # One argument for the batch: redis-py packs each argument on its own, which cost more CPU than the rest.
        batch = orjson.dumps(
            [
                (e.user_key, e.event_id, e.interaction.type.value, e.interaction.product_id, e.encode().decode())
                for e in events
            ]
        )
        args: list[Any] = [
            self._user_prefix, limits.stream_max_len, minid, limits.history_max, limits.ttl_ms, limits.dedup_max, now,
            batch,
        ]
        flags = self._call("append", lambda: self._append(keys=[self.stream], args=args), skip_when_down=False)
        stored = tuple(event for event, flag in zip(events, flags) if flag)
        return AppendResult(len(stored), len(events) - len(stored), stored)

    def log_impression(self, user_key: str, impression: ImpressionRecord, answer_key: str | None) -> None:
        base = self._user_prefix + user_key
        ttl = self.limits.ttl_ms

        def run() -> None:
            args = [base, impression.encode(), self.limits.impressions_max, ttl, answer_key or ""]
            self._impression(args=args)

        self._call("impression", run)

    def forget(self, user_key: str) -> tuple[int, list[str]]:
        base = self._user_prefix + user_key

        def run() -> tuple[int, list[str]]:
            writer = self._writer
            pipe = writer.pipeline(transaction=False)
            pipe.lrange(base + ":ids", 0, -1)
            pipe.smembers(base + ":ans")
            ids, answers = pipe.execute()
            removed = 0
            for start in range(0, len(ids), _CHUNK):
                removed += writer.xdel(self.stream, *ids[start : start + _CHUNK])
            removed += writer.delete(*self.user_keys(user_key))
            return removed, sorted(a.decode() for a in answers)

        return self._call("forget", run, skip_when_down=False)

    # -- reads -------------------------------------------------------------------------------
    def state(self, user_key: str, limit: int) -> ShopperState:
        base = self._user_prefix + user_key

        def run() -> ShopperState:
            blobs, dismissed, purchased = self._state(args=[base, limit])
            if not blobs and not dismissed and not purchased:
                return ShopperState()
            events = [StoredEvent.decode(user_key, blob) for blob in blobs]
            return state_from(events, (d.decode() for d in dismissed), (p.decode() for p in purchased))

        return self._call("state", run)

    def record(self, user_key: str) -> ShopperRecord:
        base = self._user_prefix + user_key

        def run() -> ShopperRecord:
            pipe = self._client.pipeline(transaction=False)
            pipe.lrange(base + ":hist", 0, -1)
            pipe.smembers(base + ":dis")
            pipe.smembers(base + ":buy")
            pipe.lrange(base + ":imp", 0, -1)
            pipe.lrange(base + ":ids", 0, -1)
            pipe.xrange(self.stream, min="-", max="+", count=1)
            blobs, dismissed, purchased, impressions, ids, first = pipe.execute()
            oldest = _entry_id(first[0][0]) if first else None
            in_stream = sum(1 for i in ids if oldest is not None and _entry_id(i) >= oldest)
            return ShopperRecord(
                tuple(StoredEvent.decode(user_key, b) for b in blobs),
                frozenset(d.decode() for d in dismissed),
                frozenset(p.decode() for p in purchased),
                tuple(ImpressionRecord.decode(b) for b in impressions),
                in_stream,
            )

        return self._call("record", run)

    def sequences(self) -> Iterator[ShopperSequence]:
        """Every shopper's sequence in the stream (read in chunks; what the recommender trains from)."""
        return sequences_from(self._stream_events())

    def _stream_events(self) -> Iterator[StoredEvent]:
        start = "-"
        while True:
            entries = self._client.xrange(self.stream, min=start, max="+", count=_CHUNK)
            for _, fields in entries:
                yield StoredEvent.decode(fields[b"u"].decode(), fields[b"e"])
            if len(entries) < _CHUNK:
                return
            start = "(" + entries[-1][0].decode()

    def last_id(self) -> str:
        """The newest stream entry's id ("0-0" when empty or unreachable): where a follower starts."""
        try:
            newest = self._client.xrevrange(self.stream, count=1)
        except redis.RedisError:
            return "0-0"
        return newest[0][0].decode() if newest else "0-0"

    def status(self) -> dict[str, Any]:
        try:
            length = self._client.xlen(self.stream)
        except redis.RedisError as exc:
            return {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"backend": self.backend, "ok": True, "events": length}

    # -- failures ----------------------------------------------------------------------------
    def _call(self, op: str, fn: Any, *, skip_when_down: bool = True) -> Any:
        """``fn()``; a Redis failure becomes :class:`EventStoreUnavailable`.

        After a failure, request-path reads skip Redis for a moment (an unreachable server must not add its
        timeout to every answer); writes always try.
        """
        if skip_when_down and time.monotonic() < self._down_until:
            raise EventStoreUnavailable(f"event store unavailable ({self._last_error})")
        try:
            return fn()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.RETRY_AFTER_FAILURE_S
            self._last_error = f"{op}: {type(exc).__name__}"
            log.warning("event store unavailable", extra={"error": f"{op}: {type(exc).__name__}: {exc}"})
            raise EventStoreUnavailable(f"event store unavailable ({self._last_error})") from exc


def _entry_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
