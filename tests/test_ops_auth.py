"""service/ops/auth.py: the key ring matches only exact keys; new keys round-trip through their entry."""

from __future__ import annotations

import pytest

from service.ops.auth import KeyRing, new_key
from service.settings import parse_api_keys
from tests.support.api_keys import ENTRIES, KEYS


# -- the key ring -----------------------------------------------------------------------------
def test_keyring_matches_only_the_exact_key() -> None:
    ring = KeyRing(parse_api_keys(ENTRIES))
    assert ring.authenticate(KEYS["shop"]).name == "shop"
    assert ring.authenticate(KEYS["shop"]).scopes == {"recommend"}
    assert ring.authenticate(KEYS["shop"] + "x") is None
    assert ring.authenticate(KEYS["shop"][:-1]) is None
    assert ring.authenticate("") is None
    assert ring.authenticate("x" * 10_000) is None
    assert not ring.open and KeyRing([]).open


def test_new_key_entry_round_trips() -> None:
    key, entry = new_key("storefront", ["recommend", "copy"])
    assert len(key) > 40
    parsed = parse_api_keys(entry.entry())
    assert KeyRing(parsed).authenticate(key).scopes == {"recommend", "copy"}
    with pytest.raises(ValueError):
        new_key("x", ["admin"])
