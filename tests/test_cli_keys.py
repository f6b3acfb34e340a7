"""``shopguide keys new``: a key and the SHOPGUIDE_API_KEYS entry that admits it."""

from __future__ import annotations

import pytest

from service.cli import main
from service.ops.auth import KeyRing, hash_key
from service.settings import parse_api_keys


def test_keys_new_command_prints_a_working_key_and_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "storefront", "--scopes", "recommend,copy"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines()[:2])
    key, entry = lines["key"].strip(), lines["entry"].strip()
    assert entry == f"storefront:{hash_key(key)}:recommend+copy"
    assert key not in entry
    assert KeyRing(parse_api_keys(entry)).authenticate(key).scopes == {"recommend", "copy"}


def test_keys_new_refuses_an_unknown_scope(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "x", "--scopes", "admin"]) == 2
    assert "scopes must be some of recommend, copy, ops" in capsys.readouterr().err
