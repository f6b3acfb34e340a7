"""API keys for tests of access control: one key per scope set, their SHOPGUIDE_API_KEYS entries, headers."""

from __future__ import annotations

import uuid

from service.ops.auth import hash_key

KEYS = {name: f"sg_test_{name}_{uuid.uuid4().hex}" for name in ("shop", "writer", "ops", "all")}
SCOPES = {"shop": "recommend", "writer": "copy", "ops": "ops", "all": "recommend+copy+ops"}
ENTRIES = ",".join(f"{n}:{hash_key(k)}:{SCOPES[n]}" for n, k in KEYS.items())


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of key ``name``."""
    return {"Authorization": f"Bearer {KEYS[name]}"}
