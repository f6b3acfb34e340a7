"""Turn a model's text into the output model: parse, and repair once if needed.

Repair strips what small and chatty models wrap around JSON — prose before or
after, Markdown code fences — by decoding the first complete JSON object found
in the text. Anything still invalid raises :class:`InvalidOutput`, and the
pipeline decides whether to re-ask.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from service.errors import InvalidOutput

M = TypeVar("M", bound=BaseModel)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Parsed(Generic[M]):
    value: M
    repaired: bool


def _json_objects(text: str) -> Iterator[dict[str, object]]:
    """Every top-level JSON object embedded in ``text``, in order."""
    start = text.find("{")
    while start != -1:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            yield value
        start = text.find("{", end)


def _describe(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid"))


def parse_output(text: str, model: type[M], *, provider: str = "") -> Parsed[M]:
    """Validate ``text`` as ``model``; on failure, repair once by extracting the first JSON object.

    :raises InvalidOutput: with a short description of what was wrong.
    """
    try:
        return Parsed(model.model_validate_json(text), repaired=False)
    except ValidationError as first:
        problem = _describe(first)
    found = False
    for value in _json_objects(text):
        found = True
        try:
            return Parsed(model.model_validate(value), repaired=True)
        except ValidationError as exc:
            problem = _describe(exc)
    if not found:
        raise InvalidOutput(f"no JSON object in the reply ({problem})", provider=provider)
    raise InvalidOutput(f"reply does not match the schema: {problem}", provider=provider)
