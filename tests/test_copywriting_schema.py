"""The copy output schema: OpenAI strict-mode shape, and limits local decoding enforces."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from service.copywriting.channels import channel_limits
from service.copywriting.schema import (
    CopyChecks,
    CopyOutput,
    CopyVariant,
    copy_output_schema,
    strict_schema_problems,
)


def test_model_schema_is_strict_compatible() -> None:
    assert strict_schema_problems(CopyOutput.model_json_schema()) == []


@pytest.mark.parametrize("limits", [None, channel_limits("search_ad"), channel_limits("pdp", "long")])
def test_copy_output_schema_is_strict_compatible(limits) -> None:
    assert strict_schema_problems(copy_output_schema(3, limits)) == []


def test_strict_problems_are_reported() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    assert strict_schema_problems(schema) == [
        "$: additionalProperties must be false",
        "$: every property must be required",
    ]


def test_schema_fixes_variant_count_and_tightens_with_limits() -> None:
    schema = copy_output_schema(2, channel_limits("search_ad"))
    outer = schema["properties"]["variants"]
    assert (outer["minItems"], outer["maxItems"]) == (2, 2)
    props = schema["$defs"]["CopyVariant"]["properties"]
    assert props["headline"]["maxLength"] == 30
    assert props["body"]["maxLength"] == 90
    assert props["bullets"]["items"]["maxLength"] == 25
    assert (props["bullets"]["minItems"], props["bullets"]["maxItems"]) == (0, 4)


def test_schema_without_string_lengths_keeps_item_counts_only() -> None:
    schema = copy_output_schema(1, channel_limits("pdp"), string_lengths=False)
    assert "maxLength" not in json.dumps(schema)
    assert schema["$defs"]["CopyVariant"]["properties"]["bullets"]["minItems"] == 3


def test_schema_is_a_fresh_copy() -> None:
    copy_output_schema(1, channel_limits("ad"))
    assert "maxLength" not in json.dumps(CopyOutput.model_json_schema())


def test_variants_must_be_positive() -> None:
    with pytest.raises(ValueError):
        copy_output_schema(0, None)


def test_output_model_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        CopyVariant.model_validate({"headline": "h", "body": "b", "bullets": [], "cta": "c", "extra": 1})


def test_checks_ok_and_round_trip() -> None:
    checks = CopyChecks(compliance_hits=["最佳"])
    assert not checks.ok
    assert CopyChecks.model_validate(checks.model_dump()) == checks
    assert CopyChecks().ok


def test_local_constrained_decoding_enforces_the_limits() -> None:
    xgr = pytest.importorskip("xgrammar", reason="xgrammar ships with the 'local' extra")
    from xgrammar.testing import _is_grammar_accept_string

    schema = copy_output_schema(1, channel_limits("search_ad"))
    grammar = xgr.Grammar.from_json_schema(json.dumps(schema), strict_mode=True)

    def accepts(headline: str, bullets: list[str]) -> bool:
        doc = {"variants": [{"headline": headline, "body": "b", "bullets": bullets, "cta": "c"}]}
        return _is_grammar_accept_string(grammar, json.dumps(doc, ensure_ascii=False))

    assert accepts("x" * 30, ["a"])
    assert not accepts("x" * 31, ["a"])
    assert accepts("轻" * 30, [])  # characters, as the length check counts
    assert not accepts("轻" * 31, [])
    assert not accepts("ok", ["a"] * 5)
