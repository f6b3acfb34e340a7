"""The studio's JSON API: product search, checks of edited copy, review decisions, history, queue, export, uploads.

Every route is declared as an :class:`Endpoint`, so the guard applies its scope
(``copy``) and the OpenAPI document describes it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from flask import Blueprint, Response, request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from service.api.copy import _int_arg, created_response, known_args, viewer
from service.api.http import json_response, read_body
from service.api.openapi import Endpoint
from service.api.principal import caller
from service.catalog.load import Catalog, load_catalog
from service.catalog.product import Product
from service.copywriting.schema import CopyChecks, CopyVariant
from service.db.reviews import Decision, ReviewStore
from service.errors import CatalogError, ClientError, InvalidRequest, NotFound, PayloadTooLarge
from service.jobs.service import CopyJobs
from service.pipeline.copy import CopyPipeline
from service.respond.copy import CopyJobCreated, CopyRecord
from service.retrieve.base import Retriever
from service.studio.export import export_csv, export_jsonl
from service.studio.findings import findings
from service.validate.base import StrictModel, parse_body
from service.validate.copy import CopyJobRequest, CopyOptions, InlineProduct
from service.validate.recommend import Filters

UPLOAD_MAX_BYTES = 8 * 1024 * 1024


class NeedsOverride(ClientError):
    """Approving text the checks flag: it conflicts with the review rules until an override (and why) is given."""

    status = 409
    code = "needs_override"
UPLOAD_MAX_PRODUCTS = 10_000


def _integral(value: Any) -> Any:
    """JSON's 3.0 is the integer 3 (JSON Schema agrees); strict parsing would refuse it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class VariantText(StrictModel):
    headline: str = Field(max_length=2000)
    body: str = Field(max_length=20000)
    bullets: list[str] = Field(default_factory=list, max_length=20)
    cta: str = Field("", max_length=500)

    def variant(self) -> CopyVariant:
        return CopyVariant(headline=self.headline, body=self.body, bullets=self.bullets, cta=self.cta)


class CheckRequest(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # what resolve() needs, in the schema: a product id or the product itself
            "anyOf": [
                {"required": ["product_id"], "properties": {"product_id": {"type": "string"}}},
                {"required": ["product"], "properties": {"product": {"type": "object"}}},
            ]
        },
    )

    product_id: str | None = Field(None, min_length=1, max_length=256, description="A catalog product id.")
    job_id: str | None = Field(None, max_length=64, description="The upload job the product came with.")
    product: InlineProduct | None = Field(None, description="The product's data, when it is in neither.")
    options: CopyOptions = Field(default_factory=CopyOptions)
    variants: list[VariantText] = Field(min_length=1, max_length=5)


class CheckResult(BaseModel):
    ok: bool = Field(description="No finding: the variant can be approved without an override.")
    checks: CopyChecks
    findings: list[dict[str, Any]] = Field(description="Each finding on its sentence: kind, text, why, field, sentence.")


class CheckResponse(BaseModel):
    product_id: str
    language: str
    results: list[CheckResult]


class ReviewSource(StrictModel):
    provider: str | None = Field(None, max_length=128)
    model: str | None = Field(None, max_length=256)
    prompt_version: str | None = Field(None, max_length=64)
    job_id: str | None = Field(None, max_length=64)


class ReviewRequest(StrictModel):
    product_id: str = Field(min_length=1, max_length=256)
    decision: Literal["approved", "rejected"]
    variant: VariantText
    base_version: Annotated[int, BeforeValidator(_integral)] = Field(
        ge=0, le=2**53, description="The product's row_version you reviewed (0: no decision yet)."
    )
    options: CopyOptions = Field(default_factory=CopyOptions)
    edited: bool = Field(False, description="The text differs from what the model wrote.")
    override: bool = Field(False, description="Approve although the checks found something (recorded).")
    override_reason: str | None = Field(None, max_length=1000)
    note: str | None = Field(None, max_length=2000)
    source: ReviewSource = Field(default_factory=ReviewSource)
    product: InlineProduct | None = Field(None, description="The product, when it is neither in the catalog nor a job.")


class ReviewResponse(BaseModel):
    entry: dict[str, Any]
    version: dict[str, Any]


class HistoryResponse(BaseModel):
    product_id: str
    entry: dict[str, Any] | None
    versions: list[dict[str, Any]] = Field(description="Newest first.")


class ProductsResponse(BaseModel):
    products: list[dict[str, Any]]
    total: int
    categories: list[str]
    brands: list[str]


class QueueResponse(BaseModel):
    job_id: str
    items: list[dict[str, Any]]
    total: int
    offset: int
    next_offset: int | None


class OpsState(BaseModel):
    state: dict[str, Any]


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/studio/products",
        "Catalog products for the studio: search (same retrieval), filter by category and brand, with review state",
        "copy",
        ProductsResponse,
        errors=(400, 401, 403),
        parameters=(
            ("q", "query", "Words to search for (Chinese or English); empty lists the catalog.", {"type": "string", "maxLength": 500}),
            ("category", "query", "Category prefix, e.g. Clothing/Outerwear.", {"type": "string", "maxLength": 200}),
            ("brand", "query", "Brand, exactly.", {"type": "string", "maxLength": 200}),
            ("limit", "query", "1 to 1000 (default 50).", {"type": "integer", "minimum": 1, "maximum": 1000}),
            ("offset", "query", "Products to skip.", {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        ),
    ),
    Endpoint(
        "POST",
        "/v1/studio/check",
        "Run the copy checks on (edited) variants and place each finding on its sentence",
        "copy",
        CheckResponse,
        CheckRequest,
        errors=(400, 401, 403, 404, 413, 415),
    ),
    Endpoint(
        "POST",
        "/v1/studio/reviews",
        "Approve or reject one variant of a product's copy (optimistic versioning; override recorded)",
        "copy",
        ReviewResponse,
        ReviewRequest,
        errors=(400, 401, 403, 404, 409, 413, 415),
        status=201,
        description="The server checks the text again: approving a variant with findings needs override=true and an "
        "override_reason (else 409 needs_override). base_version must be the product's current row_version (0 for the first decision); "
        "otherwise 409 conflict says who decided in between.",
    ),
    Endpoint(
        "GET",
        "/v1/studio/products/{product_id}/history",
        "Every decided version of a product's copy, newest first",
        "copy",
        HistoryResponse,
        errors=(401, 403),
        parameters=(("product_id", "path", "The product id."),),
    ),
    Endpoint(
        "GET",
        "/v1/studio/queue/{job_id}",
        "A copy job's results for review, with each product's review state and findings",
        "copy",
        QueueResponse,
        errors=(400, 401, 403, 404, 503),
        parameters=(
            ("job_id", "path", "The copy job."),
            ("limit", "query", "1 to 500 (default 100).", {"type": "integer", "minimum": 1, "maximum": 500}),
            ("offset", "query", "Results to skip.", {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        ),
    ),
    Endpoint(
        "GET",
        "/v1/studio/export/csv",
        "Approved copy as CSV in Shopify's product columns (Handle, Title, Body (HTML), SEO Title, SEO Description, Tags)",
        "copy",
        None,
        errors=(400, 401, 403),
        response_media="text/csv",
        description="UTF-8 with a BOM (Excel shows Chinese); one row per approved product, its current version.",
    ),
    Endpoint(
        "GET",
        "/v1/studio/export/jsonl",
        "Approved copy as JSON lines with every field (text, who, when, provider, model, findings, override)",
        "copy",
        None,
        errors=(400, 401, 403),
        response_media="application/x-ndjson",
    ),
    Endpoint(
        "POST",
        "/v1/studio/uploads",
        "Start a copy job for an uploaded CSV or JSONL catalog (multipart: file, options as JSON)",
        "copy",
        CopyJobCreated,
        errors=(400, 401, 403, 413, 415, 429, 503),
        status=202,
        hidden=True,  # a multipart file upload: described here and in the README, not in the JSON-only OpenAPI document
        description="multipart/form-data with `file` (a .csv or .jsonl catalog, as `shopguide catalog` reads) and "
        "`options` (the /v1/copy options as JSON). The products travel with the job; at most 10000 per upload.",
    ),
    Endpoint("GET", "/v1/ops/state", "Everything the ops page shows, in one read-only document", "ops", OpsState),
]


def _product_summary(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "brand": product.brand,
        "category": product.category,
        "price": product.price,
        "currency": product.currency,
        "image_url": product.image_url,
        "in_stock": product.in_stock,
        "tags": list(product.tags),
    }


def _snapshot(product: Product) -> dict[str, Any]:
    return {
        "title": product.title,
        "brand": product.brand,
        "category": product.category,
        "tags": list(product.tags),
        "description": product.description,
        "url": product.url,
    }


def studio_api_blueprint(
    *,
    catalog: Catalog,
    retriever: Retriever,
    pipeline: CopyPipeline,
    jobs: CopyJobs,
    reviews: ReviewStore,
    ops_state: Any,
) -> Blueprint:
    bp = Blueprint("studio_api", __name__)
    categories = sorted({p.category for p in catalog.products if p.category})
    brands = sorted({p.brand for p in catalog.products if p.brand})

    def resolve(product_id: str | None, job_id: str | None, inline: InlineProduct | None) -> Product:
        if inline is not None and product_id is None:
            return inline.to_product()
        if product_id is None:
            raise InvalidRequest("product_id: give product_id or product", field="product_id")
        if job_id:
            found = jobs.product(job_id, product_id, viewer())
            if found is not None:
                return found
        product = catalog.get(product_id)
        if product is None:
            if inline is not None:
                return inline.to_product()
            raise NotFound(f"product_id: no product {product_id!r} in the catalog", field="product_id")
        return product

    @bp.get("/v1/studio/products")
    def products() -> Response:
        known_args("q", "category", "brand", "limit", "offset")
        q = request.args.get("q", "").strip()
        limit = _int_arg("limit", 50, 1, 1000)
        offset = _int_arg("offset", 0, 0, 10_000_000)
        try:
            filters = Filters(
                category=request.args.get("category") or None, brand=request.args.get("brand") or None, in_stock=False
            )
        except ValidationError as exc:
            raise InvalidRequest(f"filters: {exc.errors()[0]['msg']}", field="category") from None
        if len(q) > 500:
            raise InvalidRequest("q: at most 500 characters", field="q")
        if q:
            found = [c.product for c in retriever.search(q, filters, limit + offset)][offset:]
            total = len(found)
        else:
            pool = [
                p
                for p in catalog.products
                if (not filters.category or p.category == filters.category or p.category.startswith(filters.category + "/"))
                and (not filters.brand or p.brand == filters.brand)
            ]
            total = len(pool)
            found = pool[offset : offset + limit]
        states = reviews.states([p.id for p in found])
        items = []
        for p in found:
            item = _product_summary(p)
            state = states.get(p.id)
            item["review"] = {"status": state["status"], "row_version": state["row_version"]} if state else None
            items.append(item)
        return json_response(ProductsResponse(products=items, total=total, categories=categories, brands=brands))

    @bp.post("/v1/studio/check")
    def check() -> Response:
        body = read_body(CheckRequest)
        product = resolve(body.product_id, body.job_id, body.product)
        results = []
        language = ""
        for text in body.variants:
            variant = text.variant()
            checks, language, _ = pipeline.check(product, body.options, variant)
            found = findings(variant, checks)
            results.append(CheckResult(ok=not found, checks=checks, findings=found))
        return json_response(CheckResponse(product_id=product.id, language=language, results=results))

    @bp.post("/v1/studio/reviews")
    def review() -> Response:
        body = read_body(ReviewRequest)
        product = resolve(body.product_id, body.source.job_id, body.product)
        variant = body.variant.variant()
        checks, language, _ = pipeline.check(product, body.options, variant)  # never trust the page's findings
        found = findings(variant, checks)
        if body.decision == "approved" and found and not body.override:
            listed = "; ".join(f"{f['kind'].replace('_', ' ')} {f['text']!r}" for f in found[:5])
            raise NeedsOverride(
                f"override: this variant has {len(found)} finding(s) ({listed}); fix them, or approve with "
                "override=true and an override_reason",
                field="override",
            )
        if body.override and body.decision == "approved" and found and not (body.override_reason or "").strip():
            raise NeedsOverride("override_reason: say why you approve despite the findings", field="override_reason")
        result = reviews.decide(
            Decision(
                product_id=product.id,
                decision=body.decision,
                headline=variant.headline,
                body=variant.body,
                bullets=list(variant.bullets),
                cta=variant.cta,
                base_version=body.base_version,
                decided_by=caller().label,
                title=product.title,
                channel=body.options.channel,
                language=language,
                options=body.options.model_dump(mode="json"),
                product=_snapshot(product),
                findings=found,
                edited=body.edited,
                override=bool(body.override and found),
                override_reason=(body.override_reason or None) if body.override and found else None,
                note=body.note,
                prompt_version=body.source.prompt_version,
                provider=body.source.provider,
                model=body.source.model,
                job_id=body.source.job_id,
            )
        )
        return json_response(ReviewResponse(**result), status=201)

    @bp.get("/v1/studio/products/<text:product_id>/history")
    def history(product_id: str) -> Response:
        return json_response(
            HistoryResponse(product_id=product_id, entry=reviews.entry(product_id), versions=reviews.history(product_id))
        )

    @bp.get("/v1/studio/queue/<job_id>")
    def queue(job_id: str) -> Response:
        known_args("limit", "offset")
        limit = _int_arg("limit", 100, 1, 500)
        offset = _int_arg("offset", 0, 0, 10_000_000)
        _, lines = jobs.results(job_id, viewer())
        records = []
        for i, line in enumerate(lines):
            if i < offset:
                continue
            if len(records) >= limit:
                break
            records.append(CopyRecord.model_validate_json(line))
        total = jobs.status(job_id, viewer()).done
        states = reviews.states([r.product_id for r in records])
        items = []
        for record in records:
            product = jobs.product(job_id, record.product_id, viewer()) or catalog.get(record.product_id)
            variants = []
            for v in record.variants:
                variant = CopyVariant(headline=v.headline, body=v.body, bullets=v.bullets, cta=v.cta)
                variants.append({**v.model_dump(mode="json"), "findings": findings(variant, v.checks)})
            items.append(
                {
                    "product_id": record.product_id,
                    "title": product.title if product else record.product_id,
                    "status": record.status,
                    "error": record.error,
                    "variants": variants,
                    "provider": record.provider,
                    "model": record.model,
                    "prompt_version": record.prompt_version,
                    "review": states.get(record.product_id),
                }
            )
        next_offset = offset + len(items) if offset + len(items) < total else None
        return json_response(QueueResponse(job_id=job_id, items=items, total=total, offset=offset, next_offset=next_offset))

    @bp.get("/v1/studio/export/csv")
    def export_shopify() -> Response:
        known_args()
        return Response(
            export_csv(reviews.approved(), catalog),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="shopguide-approved-copy.csv"'},
        )

    @bp.get("/v1/studio/export/jsonl")
    def export_all() -> Response:
        known_args()
        return Response(
            export_jsonl(reviews.approved()),
            mimetype="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="shopguide-approved-copy.jsonl"'},
        )

    @bp.post("/v1/studio/uploads")
    def upload() -> Response:
        if request.content_length and request.content_length > UPLOAD_MAX_BYTES:
            raise PayloadTooLarge(f"upload exceeds {UPLOAD_MAX_BYTES} bytes")
        if request.mimetype != "multipart/form-data":
            raise InvalidRequest("send multipart/form-data with a file field", field="file")
        file = request.files.get("file")
        if file is None or not file.filename:
            raise InvalidRequest("file: attach a CSV or JSONL catalog", field="file")
        suffix = Path(file.filename).suffix.lower()
        if suffix not in (".csv", ".tsv", ".jsonl", ".ndjson", ".json"):
            raise InvalidRequest("file: use a .csv or .jsonl catalog", field="file")
        raw_options = request.form.get("options") or "{}"
        try:
            options = parse_body(CopyOptions, raw_options)
        except InvalidRequest as exc:
            raise InvalidRequest(f"options.{exc.field}: {exc.message}" if exc.field else exc.message, field="options") from None
        with tempfile.TemporaryDirectory(prefix="shopguide-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            file.save(path)
            try:
                uploaded = load_catalog(path)
            except CatalogError as exc:
                raise InvalidRequest(f"file: {str(exc).replace(str(path), file.filename)}", field="file") from None
        if len(uploaded) > UPLOAD_MAX_PRODUCTS:
            raise InvalidRequest(f"file: at most {UPLOAD_MAX_PRODUCTS} products per upload", field="file")
        job_request = CopyJobRequest.model_validate(
            {**options.model_dump(mode="json"), "product_ids": [p.id for p in uploaded.products]}
        )
        spec = jobs.create(job_request, caller().name, products=list(uploaded.products))
        response = created_response(spec.job_id, spec.total)
        if uploaded.report.errors:
            response.headers["X-Shopguide-Rejected-Rows"] = str(len(uploaded.report.errors))
        return response

    @bp.get("/v1/ops/state")
    def ops() -> Response:
        return Response(orjson.dumps({"state": ops_state()}), mimetype="application/json")

    return bp
