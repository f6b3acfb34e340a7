"""A circuit breaker per provider, its state in Redis (shared by every worker and pod) or in memory.

closed ──N consecutive failures──▶ open ──cool-down over──▶ half-open: one trial request
   ▲                                 ▲                            │
   └──────────── trial succeeds ─────┼────────────────────────────┘
                                     └── trial fails: open again, cool-down doubled (up to a cap)

While open, the chain skips the provider without calling it. In half-open exactly one
caller (across all processes, through a Redis ``SET NX`` token) makes the trial; the
others keep skipping until it decides. Only failures that say something about the
provider's health count: transient upstream errors, timeouts and refusals, not a full
local queue (load shedding) nor an answer that broke the output contract.

A breaker opened by a rate limit (429) that said ``Retry-After`` stays open that long, not its
own cool-down: the upstream said when it will take calls again (issue 13 item 6; a 1 s
``Retry-After`` used to keep the provider off for the whole 30 s cool-down). A failed trial
under ``Retry-After`` is not doubled either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis

from service.errors import InvalidOutput, ProviderError, ProviderUnavailable

State = Literal["closed", "open", "half_open"]


def counts_against_health(error: ProviderError) -> bool:
    """Whether ``error`` is evidence that the provider is unhealthy."""
    return not isinstance(error, (ProviderUnavailable, InvalidOutput))


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    cooldown_s: float = 30.0
    max_cooldown_s: float = 300.0


@dataclass
class BreakerRecord:
    failures: int = 0
    open_until: float = 0.0  # wall-clock seconds; 0 when closed
    cooldown_s: float = 0.0  # the cool-down last applied (doubles on a failed trial)


class BreakerStore(Protocol):
    def read(self, name: str) -> BreakerRecord: ...

    def success(self, name: str) -> None: ...

    def failure(
        self, name: str, policy: BreakerPolicy, now: float, trial: bool, cooldown_s: float | None = None
    ) -> BreakerRecord:
        """Count a failure; ``cooldown_s`` (an upstream's Retry-After) replaces the policy's cool-down if it opens."""
        ...

    def take_trial(self, name: str, ttl_s: float) -> bool: ...

    def release_trial(self, name: str) -> None: ...


class MemoryBreakerStore:
    """Breaker state for one process."""

    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}
        self._trials: dict[str, float] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> BreakerRecord:
        with self._lock:
            record = self._records.get(name, BreakerRecord())
            return BreakerRecord(record.failures, record.open_until, record.cooldown_s)

    def success(self, name: str) -> None:
        with self._lock:
            self._records[name] = BreakerRecord()
            self._trials.pop(name, None)

    def failure(
        self, name: str, policy: BreakerPolicy, now: float, trial: bool, cooldown_s: float | None = None
    ) -> BreakerRecord:
        with self._lock:
            record = self._records.setdefault(name, BreakerRecord())
            _apply_failure(record, policy, now, trial, cooldown_s)
            self._trials.pop(name, None)
            return BreakerRecord(record.failures, record.open_until, record.cooldown_s)

    def take_trial(self, name: str, ttl_s: float) -> bool:
        now = time.time()
        with self._lock:
            if self._trials.get(name, 0.0) > now:
                return False
            self._trials[name] = now + ttl_s
            return True

    def release_trial(self, name: str) -> None:
        with self._lock:
            self._trials.pop(name, None)


def _apply_failure(
    record: BreakerRecord, policy: BreakerPolicy, now: float, trial: bool, cooldown_s: float | None = None
) -> None:
    record.failures += 1
    if cooldown_s is not None and (trial or record.failures >= policy.failures):
        record.cooldown_s = min(cooldown_s, policy.max_cooldown_s)
        record.open_until = max(record.open_until, now + record.cooldown_s) if not trial else now + record.cooldown_s
    elif trial:
        record.cooldown_s = min(max(record.cooldown_s, policy.cooldown_s) * 2, policy.max_cooldown_s)
        record.open_until = now + record.cooldown_s
    elif record.failures >= policy.failures and record.open_until <= now:
        record.cooldown_s = policy.cooldown_s
        record.open_until = now + record.cooldown_s


# KEYS[1] = state hash; ARGV = threshold, cooldown, max cooldown, now, trial (0/1), Retry-After ('' when none)
_FAILURE_LUA = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local cooldown = tonumber(redis.call('HGET', KEYS[1], 'cooldown') or '0')
local threshold, base, cap, now, trial = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local told = tonumber(ARGV[6])
if told ~= nil and (trial == '1' or failures >= threshold) then
  cooldown = math.min(told, cap)
  if trial == '1' then open_until = now + cooldown else open_until = math.max(open_until, now + cooldown) end
elseif trial == '1' then
  cooldown = math.min(math.max(cooldown, base) * 2, cap)
  open_until = now + cooldown
elseif failures >= threshold and open_until <= now then
  cooldown = base
  open_until = now + cooldown
end
redis.call('HSET', KEYS[1], 'open_until', tostring(open_until), 'cooldown', tostring(cooldown))
redis.call('EXPIRE', KEYS[1], math.ceil(cap * 4 + 60))
return {failures, tostring(open_until), tostring(cooldown)}
"""


class RedisBreakerStore:
    """Breaker state shared through Redis. If Redis fails, the breaker reads as closed (fail open).

    Reads are remembered for ``read_ttl_s`` so a busy worker does not pay a Redis round trip per
    request; this process's own writes invalidate them at once. (Longer is not free: a worker reading a
    stale half-open record may take a second trial right after another worker's failed, doubling the
    cool-down again.)
    """

    def __init__(self, client: redis.Redis, prefix: str, *, read_ttl_s: float = 0.25) -> None:
        self._client = client
        self._prefix = prefix
        self._failure = client.register_script(_FAILURE_LUA)
        self._read_ttl_s = read_ttl_s
        self._seen: dict[str, tuple[float, BreakerRecord]] = {}

    def _key(self, name: str) -> str:
        return f"{self._prefix}:breaker:{name}"

    def read(self, name: str) -> BreakerRecord:
        now = time.monotonic()
        seen = self._seen.get(name)
        if seen is not None and now - seen[0] < self._read_ttl_s:
            return seen[1]
        try:
            data = self._client.hgetall(self._key(name))
        except redis.RedisError:
            return BreakerRecord()
        record = BreakerRecord(
            failures=int(data.get(b"failures", 0)),
            open_until=float(data.get(b"open_until", 0)),
            cooldown_s=float(data.get(b"cooldown", 0)),
        )
        self._seen[name] = (now, record)
        return record

    def success(self, name: str) -> None:
        self._seen.pop(name, None)
        try:
            self._client.delete(self._key(name), f"{self._key(name)}:trial")
        except redis.RedisError:
            pass

    def failure(
        self, name: str, policy: BreakerPolicy, now: float, trial: bool, cooldown_s: float | None = None
    ) -> BreakerRecord:
        self._seen.pop(name, None)
        told = "" if cooldown_s is None else repr(float(cooldown_s))
        try:
            failures, open_until, cooldown = self._failure(
                keys=[self._key(name)],
                args=[policy.failures, policy.cooldown_s, policy.max_cooldown_s, now, "1" if trial else "0", told],
            )
            self._client.delete(f"{self._key(name)}:trial")
        except redis.RedisError:
            return BreakerRecord()
        return BreakerRecord(int(failures), float(open_until), float(cooldown))

    def take_trial(self, name: str, ttl_s: float) -> bool:
        try:
            return bool(self._client.set(f"{self._key(name)}:trial", "1", nx=True, px=max(1, int(ttl_s * 1000))))
        except redis.RedisError:
            return True

    def release_trial(self, name: str) -> None:
        try:
            self._client.delete(f"{self._key(name)}:trial")
        except redis.RedisError:
            pass


class CircuitBreaker:
    """One provider's breaker."""

    def __init__(
        self,
        name: str,
        store: BreakerStore,
        policy: BreakerPolicy | None = None,
        *,
        on_change: Callable[[str, bool], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._store = store
        self._policy = policy or BreakerPolicy()
        self._on_change = on_change
        self._clock = clock

    def state(self) -> State:
        record = self._store.read(self.name)
        if record.open_until <= 0:
            return "closed"
        return "open" if self._clock() < record.open_until else "half_open"

    def admit(self, trial_ttl_s: float) -> Literal["call", "trial", "skip"]:
        """Whether a request may call the provider now: ``call`` (closed), ``trial`` (the one half-open probe) or ``skip``."""
        state = self.state()
        if state == "closed":
            return "call"
        if state == "half_open" and self._store.take_trial(self.name, trial_ttl_s):
            return "trial"
        return "skip"

    def record(self, error: ProviderError | None, *, trial: bool) -> None:
        """The outcome of a call the breaker admitted."""
        if error is None:
            if trial or self._store.read(self.name).failures:
                self._store.success(self.name)
                if trial and self._on_change:
                    self._on_change(self.name, False)
            return
        if not counts_against_health(error):
            if trial:  # the trial proved nothing either way; let another request make it
                self._store.release_trial(self.name)
            return
        before = self.state()
        told = getattr(error, "retry_after", None)  # 429 or 503 with Retry-After
        record = self._store.failure(self.name, self._policy, self._clock(), trial, told)
        if self._on_change and before == "closed" and record.open_until > self._clock():
            self._on_change(self.name, True)

    def describe(self) -> dict[str, Any]:
        record = self._store.read(self.name)
        now = self._clock()
        return {
            "state": self.state(),
            "consecutive_failures": record.failures,
            "open_for_s": round(max(0.0, record.open_until - now), 3) if record.open_until else 0.0,
        }
