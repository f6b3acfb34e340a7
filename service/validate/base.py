"""Shared base for request models and the one way a request body becomes a model."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from service.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


class FieldError(ValueError):
    """A cross-field rule's failure that names the field to fix (a model validator's error names no field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class StrictModel(BaseModel):
    """Unknown fields are errors. Bodies are validated in strict mode: "5" is not an int."""

    model_config = ConfigDict(extra="forbid")


def field_path(loc: tuple[Any, ...]) -> str:
    """``("filters", "price_max")`` -> ``filters.price_max``; list positions as ``[i]``."""
    out = ""
    for piece in loc:
        if isinstance(piece, int):
            out += f"[{piece}]"
        else:
            out += ("." if out else "") + str(piece)
    return out


def parse_body(model: type[M], body: bytes | str) -> M:
    """Validate a raw JSON body into ``model`` (strict types).

    :raises InvalidRequest: naming the first offending field.
    """
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        kind = err.get("type", "")
        cause = (err.get("ctx") or {}).get("error")
        field = cause.field if isinstance(cause, FieldError) else field_path(tuple(err.get("loc", ()))) or None
        if kind == "json_invalid":
            raise InvalidRequest(f"body is not valid JSON: {err['ctx']['error']}", code="invalid_json") from None
        if kind == "model_type" and field is None:
            raise InvalidRequest("body must be a JSON object") from None
        message = "unknown field" if kind == "extra_forbidden" else err.get("msg", "invalid value")
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        raise InvalidRequest(f"{field}: {message}" if field else message, field=field) from None
