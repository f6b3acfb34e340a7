"""The product record: what a catalog row or an inline product may hold."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.catalog.product import Product


def test_an_attribute_number_past_64_bits_is_refused_naming_the_field() -> None:
    # orjson (prompt data, cache keys) cannot encode it: the fuzz test got a 500 from /v1/copy before
    with pytest.raises(ValidationError, match="attributes"):
        Product(id="p", title="t", attributes={"size": {"mm": [1, 2**70]}})
    assert Product(id="p", title="t", attributes={"n": 2**63 - 1}).attributes == {"n": 2**63 - 1}
