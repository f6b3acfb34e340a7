"""A conversation's stored state and where it lives: Redis (shared by every worker, expiring after
``SHOPGUIDE_SESSION_TTL_S`` of inactivity) or, without ``REDIS_URL``, this process's memory.

What is stored is what later turns need and the transcript ``GET /v1/chat/{id}`` returns; shopper text is
stored masked (:class:`service.ops.privacy.Redactor`) and a user id only as its keyed hash. A store that
cannot be reached raises :class:`SessionStoreDown`; the turn is then answered without memory (``stateless``).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Literal, Protocol

import redis
from cachetools import TTLCache
from pydantic import BaseModel, Field

from service.chat.state import Constraints

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class SessionStoreDown(Exception):
    """The session store did not answer."""


class Turn(BaseModel):
    """One message of the transcript."""

    role: Literal["shopper", "assistant"]
    text: str = Field(description="Shopper text masked like every stored shopper text; the assistant's reply.")
    items: list[str] = Field(default_factory=list, description="Ids of the products shown with this reply.")
    question: bool = Field(False, description="True when this reply asked the shopper a clarifying question.")
    at: float = Field(description="Unix time.")


class Session(BaseModel):
    """Everything a conversation remembers."""

    id: str
    created_at: float
    updated_at: float
    turn: int = 0
    user_key: str | None = Field(None, description="The keyed hash of the user id, never the id.")
    language: str | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    shown: list[str] = Field(default_factory=list, description="The last reply's products, in the order shown.")
    seen: list[str] = Field(default_factory=list, description="Every product shown in this session, oldest first.")
    rejected: list[str] = Field(default_factory=list, description="Products the shopper turned down.")
    focus: list[str] = Field(default_factory=list, description="The products the last message pointed at.")
    transcript: list[Turn] = Field(default_factory=list)

    @classmethod
    def new(cls, *, user_key: str | None = None) -> Session:
        now = time.time()
        return cls(id=secrets.token_urlsafe(18), created_at=now, updated_at=now, user_key=user_key)


class SessionStore(Protocol):
    backend: str

    def load(self, session_id: str) -> Session | None:
        """The session, or None when it does not exist (never created, expired or forgotten).

        :raises SessionStoreDown:
        """
        ...

    def save(self, session: Session, *, new: bool) -> bool:
        """Store the session: ``new``, whatever is there; otherwise only if it is still there (False when it has
        been deleted since it was stored, so a turn in flight while its conversation or shopper is deleted cannot
        bring them back: a known shopper's new conversation is therefore stored when it opens).

        :raises SessionStoreDown:
        """
        ...

    def delete(self, session_id: str) -> bool:
        """Whether there was such a session. :raises SessionStoreDown:"""
        ...

    def delete_user(self, user_key: str) -> int:
        """Delete every session of the shopper with this keyed hash (a shopper forgotten); how many there were.

        :raises SessionStoreDown:
        """
        ...


class MemorySessions:
    """Sessions in this process (one worker's; for a single process or tests), LRU-bounded, expiring."""

    backend = "memory"

    def __init__(self, ttl_s: float, max_sessions: int = 10_000) -> None:
        self._data: TTLCache[str, tuple[str | None, bytes]] = TTLCache(maxsize=max_sessions, ttl=ttl_s)
        self._lock = threading.Lock()

    def load(self, session_id: str) -> Session | None:
        with self._lock:
            entry = self._data.get(session_id)
        return Session.model_validate_json(entry[1]) if entry is not None else None

    def save(self, session: Session, *, new: bool) -> bool:
        blob = session.model_dump_json().encode()
        with self._lock:
            if not new and session.id not in self._data:
                return False
            self._data[session.id] = (session.user_key, blob)
        return True

    def delete(self, session_id: str) -> bool:
        with self._lock:
            return self._data.pop(session_id, None) is not None

    def delete_user(self, user_key: str) -> int:
        with self._lock, self._data.timer:  # the cache's clock held: nothing expires between the scan and the deletes
            theirs = [sid for sid, (owner, _) in self._data.items() if owner == user_key]
            for sid in theirs:
                self._data.pop(sid, None)
        return len(theirs)


# KEYS: the session, the shopper's index ('' for none). ARGV: the session JSON, TTL ms, its id, '1' when it must
# still be there. 1 saved, 0 refused (deleted since it was stored).
_SAVE = """
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if KEYS[2] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
"""


class RedisSessions:
    """Sessions in Redis under ``<prefix>:chat:<id>``, each saved with the TTL (inactivity expires it); a known
    shopper's session ids also in ``<prefix>:chat-user:<user key>`` (same TTL), so forgetting them finds them.
    A save is one Lua call: the existence check, the session and the index, atomically."""

    backend = "redis"

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: float) -> None:
        self._client = client
        self._prefix = f"{prefix}:chat:"
        self._user_prefix = f"{prefix}:chat-user:"
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._save = client.register_script(_SAVE)

    def key(self, session_id: str) -> str:
        return self._prefix + session_id

    def load(self, session_id: str) -> Session | None:
        try:
            blob: Any = self._client.get(self.key(session_id))
        except redis.RedisError as exc:
            raise SessionStoreDown(f"{type(exc).__name__}: {exc}") from exc
        return Session.model_validate_json(blob) if blob is not None else None

    def user_index(self, user_key: str) -> str:
        return self._user_prefix + user_key

    def save(self, session: Session, *, new: bool) -> bool:
        owner = session.user_key
        keys = [self.key(session.id), self.user_index(owner) if owner else ""]
        args = [session.model_dump_json(), self._ttl_ms, session.id, "0" if new else "1"]
        try:
            return bool(self._save(keys=keys, args=args))
        except redis.RedisError as exc:
            raise SessionStoreDown(f"{type(exc).__name__}: {exc}") from exc

    def delete(self, session_id: str) -> bool:
        try:
            return bool(self._client.delete(self.key(session_id)))
        except redis.RedisError as exc:
            raise SessionStoreDown(f"{type(exc).__name__}: {exc}") from exc

    def delete_user(self, user_key: str) -> int:
        index = self.user_index(user_key)
        try:
            ids = [sid.decode() for sid in self._client.smembers(index)]
            if not ids:
                self._client.delete(index)
                return 0
            return int(self._client.delete(*(self.key(sid) for sid in ids), index)) - 1
        except redis.RedisError as exc:
            raise SessionStoreDown(f"{type(exc).__name__}: {exc}") from exc
