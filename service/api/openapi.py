"""The OpenAPI document, generated from the pydantic request and response models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openapi_pydantic import (
    Components,
    Example,
    Info,
    MediaType,
    OpenAPI,
    Operation,
    Parameter,
    PathItem,
    RequestBody,
    Response,
    SecurityScheme,
)
from openapi_pydantic.util import PydanticSchema, construct_open_api_with_schema_class
from pydantic import BaseModel

from service.respond.common import ErrorResponse
from service.settings import SCOPES

SECURITY_SCHEME = "apiKey"
SCOPE_FROM_TAG = "<the tag>"
# Every endpoint that needs a key can also answer these.
_GUARDED_ERRORS = (401, 403, 429)

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
    """One route: its documentation and the API-key scope it requires.

    ``scope`` defaults to the tag (a ``copy``-tagged endpoint needs the ``copy``
    scope); ``None`` makes the route public (probes, documentation). Access
    control reads the scope from here, so a documented route is a guarded route.
    ``hidden`` routes are guarded but left out of the OpenAPI document.
    """

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
    scope: str | None = SCOPE_FROM_TAG
    hidden: bool = False
    status: int = 200  # the success status, e.g. 202 for an accepted job
    # (name, "path" or "query", description[, JSON schema]); the schema defaults to a string
    parameters: tuple[tuple[Any, ...], ...] = ()

    def __post_init__(self) -> None:
        scope = self.tag if self.scope == SCOPE_FROM_TAG else self.scope
        if scope is not None and scope not in SCOPES:
            raise ValueError(f"{self.method} {self.path}: scope {scope!r} is not one of {SCOPES}; pass scope= explicitly")
        object.__setattr__(self, "scope", scope)


def _json(model: type[BaseModel]) -> dict[str, MediaType]:
    """The model's JSON media type, with its named examples (a model's ``EXAMPLES``: Swagger UI's example menu,
    so /docs can be tried with one click)."""
    named: dict[str, Any] = getattr(model, "EXAMPLES", None) or {}
    examples = {name: Example(summary=name, value=value) for name, value in named.items()} or None
    return {"application/json": MediaType(media_type_schema=PydanticSchema(schema_class=model), examples=examples)}


def build_openapi(endpoints: list[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, PathItem] = {}
    for ep in endpoints:
        if ep.hidden:
            continue
        responses: dict[str, Response] = {}
        ok = str(ep.status)
        if ep.response is not None:
            responses[ok] = Response(description="OK", content=_json(ep.response))
        else:
            responses[ok] = Response(description="OK", content={ep.response_media: MediaType()})
        statuses = sorted(set(ep.errors) | (set(_GUARDED_ERRORS) if ep.scope else set()))
        for status in statuses:
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
                Parameter(
                    name=name,
                    param_in=where,
                    required=where == "path",
                    description=text,
                    param_schema=schema[0] if schema else {"type": "string"},
                )
                for name, where, text, *schema in ep.parameters
            ]
            or None,
            responses=responses,
            security=[{SECURITY_SCHEME: [ep.scope]}] if ep.scope else None,
        )
        item = paths.setdefault(ep.path, PathItem())
        setattr(item, ep.method.lower(), op)
    scheme = SecurityScheme(
        type="http",
        scheme="bearer",
        description="An API key from `shopguide keys new`, sent as `Authorization: Bearer <key>`. Each operation "
        "lists the scope its key needs (recommend, copy or ops). Without configured keys the service runs open. "
        "A publishable key (`pk_...`, `shopguide keys new NAME --publishable --origins ...`) may be used from a "
        "storefront page: /v1/recommend only, with an Origin header naming one of its origins, rate-limited per "
        "client IP.",
    )
    document = OpenAPI(
        info=Info(title=title, version=version),
        paths=paths,
        components=Components(securitySchemes={SECURITY_SCHEME: scheme}),
    )
    document = construct_open_api_with_schema_class(document)
    return document.model_dump(mode="json", by_alias=True, exclude_none=True)
