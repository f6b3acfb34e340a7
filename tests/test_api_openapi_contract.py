"""The OpenAPI document's examples (issue 14 item 12) and cross-field rules (issue 13 item 12)."""

from __future__ import annotations

import jsonschema
import pytest

from service.respond.copy import CopyResponse
from service.respond.recommend import RecommendResponse
from service.validate.copy import CopyJobRequest, CopyRequest
from service.validate.recommend import RecommendRequest
from tests.support import small_shop
from tests.support.scripted_provider import ScriptedProvider


@pytest.fixture(scope="module")
def document():  # noqa: ANN201
    return small_shop.app(small_shop.settings(), ScriptedProvider()).test_client().get("/openapi.json").json


def _has_han(value: object) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in str(value))


@pytest.mark.parametrize(
    ("path", "method", "where"),
    [("/v1/recommend", "post", "request"), ("/v1/recommend", "post", "200"), ("/v1/copy", "post", "request"),
     ("/v1/copy", "post", "200"), ("/v1/copy/jobs", "post", "request")],
)
def test_examples_in_chinese_and_english(document, path, method, where) -> None:
    op = document["paths"][path][method]
    media = (op["requestBody"] if where == "request" else op["responses"][where])["content"]["application/json"]
    examples = media["examples"]
    assert len(examples) >= 1 and all(e["summary"] and e["value"] for e in examples.values())
    if where == "request":
        values = [e["value"] for e in examples.values()]
        assert any(_has_han(v) for v in values) and any(not _has_han(v) for v in values)


@pytest.mark.parametrize("model", [RecommendRequest, CopyRequest, CopyJobRequest, RecommendResponse, CopyResponse])
def test_every_example_is_valid_for_its_model_and_its_schema(model) -> None:
    schema = model.model_json_schema()
    assert schema["examples"] == list(model.EXAMPLES.values())
    for name, value in model.EXAMPLES.items():
        model.model_validate(value)
        jsonschema.validate(value, schema)


def test_request_examples_work_against_the_demo_catalog() -> None:
    """One click in /docs: each request example answers 200 on the demo catalog (the service's default)."""
    from service.app import build_dependencies, create_app
    from service.catalog.load import load_catalog
    from service.provider.chain import ProviderChain

    demo, settings = load_catalog(), small_shop.settings()
    deps = build_dependencies(
        settings, catalog=demo, retriever=small_shop.WordRetriever(demo), chain=ProviderChain([ScriptedProvider()])
    )
    client = create_app(settings, deps=deps).test_client()
    for path, model in (("/v1/recommend", RecommendRequest), ("/v1/copy", CopyRequest)):
        for name, value in model.EXAMPLES.items():
            response = client.post(path, json=value)
            assert response.status_code == 200, (name, response.json)


def test_cross_field_rules_are_in_the_schema(document) -> None:
    schemas = document["components"]["schemas"]
    copy = schemas["CopyRequest"]
    validator = jsonschema.Draft202012Validator({**copy, "components": document["components"]})
    assert len(copy["oneOf"]) == 2
    assert validator.is_valid({"product_id": "SG-OUT-0001"})
    assert validator.is_valid({"product": {"title": "T"}, "product_id": None})
    assert not validator.is_valid({})  # neither
    assert not validator.is_valid({"product_id": "SG-OUT-0001", "product": {"title": "T"}})  # both
    ids = schemas["CopyJobRequest"]["properties"]["product_ids"]["anyOf"][0]
    assert ids["minItems"] == 1 and ids["maxItems"] == 100_000
    results = document["paths"]["/v1/copy/jobs/{job_id}/results"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in results}["format"] == {"type": "string", "enum": ["jsonl", "csv"]}
    assert schemas["Filters"]["x-rules"] == ["price_min <= price_max"]
    assert schemas["RecommendRequest"]["properties"]["query"]["pattern"] == r"\S"
    assert schemas["CopyRequest"]["properties"]["tone"]["pattern"] == r"\S"
