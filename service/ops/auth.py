"""API keys: how they are made, stored (as SHA-256 only) and checked (in constant time).

Two kinds: secret keys (``sg_...``, scopes as configured, for servers) and publishable keys (``pk_...``, for
storefront pages: the ``recommend`` scope only, restricted to listed origins; see :mod:`service.api.guard`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from service.settings import SCOPES, ApiKeyEntry, PublishableKeyEntry

PUBLISHABLE_SCOPES = frozenset({"recommend"})

MAX_KEY_CHARS = 256  # longer bearer tokens are rejected before hashing


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key: what SHOPGUIDE_API_KEYS holds instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(name: str, scopes: Iterable[str]) -> tuple[str, ApiKeyEntry]:
    """A fresh random key and its ``SHOPGUIDE_API_KEYS`` entry.

    :raises ValueError: for an unknown scope or an empty scope list.
    """
    wanted = frozenset(scopes)
    if not wanted or not wanted <= set(SCOPES):
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    key = "sg_" + secrets.token_urlsafe(32)
    return key, ApiKeyEntry(name=name, sha256=hash_key(key), scopes=wanted)


def new_publishable_key(name: str, origins: Iterable[str]) -> tuple[str, PublishableKeyEntry]:
    """A fresh publishable key (``pk_...``) and its ``SHOPGUIDE_PUBLISHABLE_KEYS`` entry."""
    key = "pk_" + secrets.token_urlsafe(24)
    cleaned = tuple(o.strip().rstrip("/") for o in origins if o.strip())
    return key, PublishableKeyEntry(name=name, sha256=hash_key(key), origins=cleaned)


@dataclass(frozen=True)
class Principal:
    """Who an authenticated request comes from; ``origins`` is set for a publishable key (the browser origins
    it may be used from)."""

    name: str
    scopes: frozenset[str]
    origins: frozenset[str] | None = None

    @property
    def publishable(self) -> bool:
        return self.origins is not None


class KeyRing:
    """The configured keys. Empty means open mode: every request is allowed."""

    def __init__(self, entries: Iterable[ApiKeyEntry], publishable: Iterable[PublishableKeyEntry] = ()) -> None:
        self._keys = [(bytes.fromhex(e.sha256), Principal(e.name, e.scopes)) for e in entries]
        self._keys += [
            (bytes.fromhex(e.sha256), Principal(e.name, PUBLISHABLE_SCOPES, frozenset(e.origins))) for e in publishable
        ]

    @property
    def open(self) -> bool:
        return not self._keys

    def authenticate(self, presented: str) -> Principal | None:
        """The principal whose key this is, or None.

        Every configured hash is compared, each in constant time, so timing says
        neither whether nor which key matched.
        """
        if not presented or len(presented) > MAX_KEY_CHARS:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for stored, principal in self._keys:
            if hmac.compare_digest(digest, stored):
                found = principal
        return found
