"""The OpenAPI document, generated from the pydantic request and response models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openapi_pydantic import Info, MediaType, OpenAPI, Operation, Parameter, PathItem, RequestBody, Response
from openapi_pydantic.util import PydanticSchema, construct_open_api_with_schema_class
from pydantic import BaseModel

from service.respond.common import ErrorResponse

_ERROR_TEXT = {
    400: "Invalid request: the error names the field.",
    401: "Missing or invalid API key.",
    403: "The API key lacks the scope this endpoint needs.",
    404: "Not found.",
    413: "Request body too large.",
    415: "Content type is not application/json.",
    429: "Rate limit exceeded; see Retry-After.",
    503: "No provider could answer and degraded answers are disabled.",
    504: "The request's deadline passed before any provider answered.",
}


@dataclass(frozen=True)
class Endpoint:
    """One documented route."""

    method: str
    path: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    response_media: str = "application/json"
    description: str = ""
    extra_responses: dict[str, str] = field(default_factory=dict)
    status: int = 200  # the success status, e.g. 202 for an accepted job
    parameters: tuple[tuple[str, str, str], ...] = ()  # (name, "path" or "query", description)


def _json(model: type[BaseModel]) -> dict[str, MediaType]:
    return {"application/json": MediaType(media_type_schema=PydanticSchema(schema_class=model))}


def build_openapi(endpoints: list[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, PathItem] = {}
    for ep in endpoints:
        responses: dict[str, Response] = {}
        ok = str(ep.status)
        if ep.response is not None:
            responses[ok] = Response(description="OK", content=_json(ep.response))
        else:
            responses[ok] = Response(description="OK", content={ep.response_media: MediaType()})
        for status in ep.errors:
            responses[str(status)] = Response(description=_ERROR_TEXT.get(status, "Error"), content=_json(ErrorResponse))
        for status, text in ep.extra_responses.items():
            responses[status] = Response(description=text)
        op = Operation(
            summary=ep.summary,
            description=ep.description or None,
            tags=[ep.tag],
            operationId=f"{ep.method.lower()}_{ep.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            requestBody=RequestBody(required=True, content=_json(ep.request)) if ep.request else None,
            parameters=[
                Parameter(name=name, param_in=where, required=where == "path", description=text, param_schema={"type": "string"})
                for name, where, text in ep.parameters
            ]
            or None,
            responses=responses,
        )
        item = paths.setdefault(ep.path, PathItem())
        setattr(item, ep.method.lower(), op)
    document = OpenAPI(info=Info(title=title, version=version), paths=paths)
    document = construct_open_api_with_schema_class(document)
    return document.model_dump(mode="json", by_alias=True, exclude_none=True)
