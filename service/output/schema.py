"""The output contract the model must meet, and its JSON schemas.

The hosted provider gets the static strict schema (the same for every request,
so the upstream's compiled-schema cache stays warm); a local provider gets a
per-request schema whose ``id`` is an enum of the candidate ids, so constrained
decoding cannot produce an id that is not a candidate.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REASON_MAX_CHARS = 240
SUMMARY_MAX_CHARS = 300


class Pick(BaseModel):
    """One product the model picked, with why."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: str = Field(description="The id of a candidate product, copied exactly.")
    reason: str = Field(description="Why this product fits the request, from its facts.")


class RecommendOutput(BaseModel):
    """What the model returns for a recommendation request."""

    model_config = ConfigDict(extra="ignore")

    items: list[Pick] = Field(description="The chosen products, best first.")
    summary: str = Field("", description="One sentence about the selection as a whole.")


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema in the form OpenAI's strict structured output accepts.

    Every object closes (``additionalProperties: false``) and requires all of its
    properties; defaults and titles are dropped.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: walk(v) for k, v in node.items() if k not in ("title", "default")}
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            return node
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(model.model_json_schema())


RECOMMEND_SCHEMA_NAME = "shopguide_recommendation"


def recommend_schema() -> dict[str, Any]:
    return strict_json_schema(RecommendOutput)


def recommend_grammar_schema(
    candidate_ids: list[str],
    k: int,
    *,
    reason_max_chars: int = REASON_MAX_CHARS,
    summary_max_chars: int | None = SUMMARY_MAX_CHARS,
) -> dict[str, Any]:
    """The strict schema tightened for one request: ids from ``candidate_ids``, ``k`` items, capped lengths.

    ``summary_max_chars=None``: no summary at all (the answer's summary is then built from the facts).
    """
    schema = copy.deepcopy(recommend_schema())
    pick = schema["$defs"]["Pick"]
    pick["properties"]["id"] = {"type": "string", "enum": list(dict.fromkeys(candidate_ids))}
    pick["properties"]["reason"].update({"minLength": 1, "maxLength": reason_max_chars})
    count = max(1, min(k, len(set(candidate_ids))))
    # uniqueItems: a local model's decoder also keeps the ids distinct (constrain.DistinctIds)
    schema["properties"]["items"].update({"minItems": count, "maxItems": count, "uniqueItems": True})
    if summary_max_chars is None:
        del schema["properties"]["summary"]
        schema["required"] = [name for name in schema["required"] if name != "summary"]
    else:
        schema["properties"]["summary"].update({"maxLength": summary_max_chars})
    return schema


def without_unique_items(node: Any) -> Any:
    """A copy of a JSON schema without ``uniqueItems`` (for backends that do not implement it)."""
    if isinstance(node, list):
        return [without_unique_items(item) for item in node]
    if isinstance(node, dict):
        return {key: without_unique_items(value) for key, value in node.items() if key != "uniqueItems"}
    return node
