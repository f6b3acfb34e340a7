"""The /v1/copy response, the per-product record of bulk runs and jobs, and the job views."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.copywriting.channels import ChannelLimits
from service.copywriting.schema import CopyChecks


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CopyVariantOut(_Closed):
    headline: str
    body: str
    bullets: list[str]
    cta: str
    checks: CopyChecks = Field(description="What the checks found in this variant.")
    regenerated: bool = Field(False, description="True when this variant replaces one that failed the checks.")


class RejectedVariant(_Closed):
    """A variant that is not returned, with its text, so a marketer can see what was wrong."""

    headline: str
    body: str
    bullets: list[str]
    cta: str
    reasons: list[str] = Field(description="Why it was rejected, e.g. 'banned words: cheap'.")
    checks: CopyChecks
    outcome: Literal["dropped", "replaced"] = Field(
        "dropped",
        description="dropped: failed the checks after the one regeneration (or nearly repeated a returned variant); "
        "replaced: a regenerated variant took its place.",
    )


class NearDuplicates(_Closed):
    found: int = Field(0, description="Variants of the model's first answer that nearly repeated an earlier one.")
    merged: int = Field(0, description="Variants still repeating a returned one after the regeneration: not returned.")


class Usage(_Closed):
    llm_calls: int = Field(0, description="Provider calls this answer took (0 on a cache hit).")
    tokens_in: int = 0
    tokens_out: int = 0


class CopyTimings(_Closed):
    llm: float = Field(description="Milliseconds spent waiting for providers (0 on a cache hit).")
    total: float


class CopyAnswer(_Closed):
    """Everything about one product's copy except the request's own id and timings (what the cache keeps)."""

    product_id: str
    channel: str
    language: str
    variants: list[CopyVariantOut]
    checks: CopyChecks = Field(
        description="The worst case over the returned variants (over the dropped ones when none is returned)."
    )
    rejected: list[RejectedVariant] = Field(
        default_factory=list, description="Variants not returned, with their text and the reasons."
    )
    near_duplicates: NearDuplicates = Field(default_factory=NearDuplicates)
    limits: ChannelLimits = Field(description="The length limits the copy was checked against.")
    provider: str | None = Field(description="The provider that wrote the copy; null when degraded.")
    model: str | None = None
    degraded: bool = Field(
        False,
        description="True when no model answered, or no variant it wrote was usable, and the copy is built from "
        "product facts.",
    )
    fallback_from: list[str] = Field(default_factory=list, description="Providers that failed first, as name:error.")
    prompt_version: str
    usage: Usage = Field(default_factory=Usage)


def _example_checks(**found: Any) -> dict[str, Any]:
    return {
        "banned_words_ok": True, "banned_hits": [], "compliance_hits": [], "keywords_covered": [],
        "keywords_missing": [], "unsupported_claims": [], "length_ok": True, "length_problems": [],
        "language_problems": [], "duplicate_of": None, **found,
    }


class CopyResponse(CopyAnswer):
    # issue 14 item 12: what /docs shows as the response
    EXAMPLES: ClassVar[dict[str, dict[str, Any]]] = {
        "中文：商品详情页": {
            "request_id": "5d0c3b9e1f2a4c77",
            "product_id": "SG-OUT-0001",
            "channel": "pdp",
            "language": "zh",
            "variants": [
                {
                    "headline": "雪域过膝长款鹅绒羽绒服：零下25℃也从容",
                    "body": "90%白鹅绒填充，蓬松度750，充绒量280g。过膝长款把风挡在膝盖以下，面料防泼水，毛领可拆卸。",
                    "bullets": ["90%白鹅绒，充绒量280g", "过膝长款，双向拉链", "防泼水面料，毛领可拆卸"],
                    "cta": "立即选购",
                    "checks": _example_checks(keywords_covered=["鹅绒", "保暖"]),
                    "regenerated": False,
                }
            ],
            "checks": _example_checks(keywords_covered=["鹅绒", "保暖"]),
            "rejected": [
                {
                    "headline": "全网最低价的鹅绒羽绒服",
                    "body": "品质最佳，保暖无敌。",
                    "bullets": [],
                    "cta": "马上抢",
                    "reasons": ["compliance: 全网最低价, 最佳, 无敌"],
                    "checks": _example_checks(compliance_hits=["全网最低价", "最佳", "无敌"]),
                    "outcome": "replaced",
                }
            ],
            "near_duplicates": {"found": 0, "merged": 0},
            "limits": {
                "channel": "pdp", "count": "chars", "headline_max": 80, "body_max": 600, "bullets_min": 3,
                "bullets_max": 5, "bullet_max": 100, "cta_max": 25,
            },
            "provider": "openai",
            "model": "gpt-4o-mini",
            "degraded": False,
            "fallback_from": [],
            "prompt_version": "copy-8e21b4",
            "usage": {"llm_calls": 2, "tokens_in": 1820, "tokens_out": 410},
            "cached": False,
            "timings_ms": {"llm": 2310.0, "total": 2318.4},
        },
    }
    model_config = ConfigDict(json_schema_extra={"examples": list(EXAMPLES.values())})

    request_id: str
    cached: bool
    timings_ms: CopyTimings


class CopyRecord(BaseModel):
    """One line of a bulk result (CLI output file, job results): a product's copy, or why there is none.

    ``status`` is ``ok`` when at least one variant passed, ``failed`` otherwise
    (``error`` says why: a provider outage, every variant dropped, an unknown id).
    """

    model_config = ConfigDict(extra="forbid")

    product_id: str
    status: Literal["ok", "failed"]
    error: str | None = None
    variants: list[CopyVariantOut] = Field(default_factory=list)
    checks: CopyChecks | None = None
    rejected: list[RejectedVariant] = Field(default_factory=list)
    degraded: bool = False
    provider: str | None = None
    model: str | None = None
    cached: bool = False
    prompt_version: str | None = None
    usage: Usage = Field(default_factory=Usage)

    @classmethod
    def from_response(cls, response: CopyAnswer, *, cached: bool = False) -> CopyRecord:
        ok = bool(response.variants)
        return cls(
            product_id=response.product_id,
            status="ok" if ok else "failed",
            error=None if ok else "every variant failed the checks: " + _reasons(response),
            variants=response.variants,
            checks=response.checks,
            rejected=response.rejected,
            degraded=response.degraded,
            provider=response.provider,
            model=response.model,
            cached=cached,
            prompt_version=response.prompt_version,
            usage=response.usage,
        )

    @classmethod
    def failure(cls, product_id: str, error: str) -> CopyRecord:
        return cls(product_id=product_id, status="failed", error=error)


def _reasons(response: CopyAnswer) -> str:
    seen: list[str] = []
    for rejected in response.rejected:
        if rejected.outcome != "dropped":
            continue
        for reason in rejected.reasons:
            if reason not in seen:
                seen.append(reason)
    return "; ".join(seen) or "no variants"


JobState = Literal["queued", "running", "completed", "cancelled"]


class CopyJobCreated(_Closed):
    job_id: str
    state: JobState
    total: int
    status_url: str
    results_url: str


class CopyJobStatus(_Closed):
    job_id: str
    state: JobState = Field(
        description="queued: nothing finished yet; running; completed: every product has a result; "
        "cancelled: stopped by DELETE (results so far kept; POST .../resume goes on)."
    )
    total: int = Field(description="Products in the job.")
    done: int = Field(description="Products with a result (ok or failed).")
    failed: int = Field(description="Products whose result is a failure.")
    created_at: float = Field(description="Unix time the job was created.")
    started_at: float | None = Field(None, description="Unix time a worker first took a chunk.")
    cancelled_at: float | None = Field(None, description="Unix time the job was cancelled (null unless cancelled).")
    rate_per_s: float | None = Field(None, description="Products finished per second since the job started.")
    eta_s: float | None = Field(None, description="Seconds until every product has a result, at that rate.")
    backend: Literal["rq", "thread"] = Field(description="rq: queued for `shopguide worker`; thread: in this process.")
    workers: int | None = Field(
        None, description="`shopguide worker` processes alive on the job queue (null: the job runs in the API process)."
    )
    waiting_for_worker: bool = Field(False, description="True when the job is unfinished and no worker is alive.")
    message: str | None = Field(None, description='What the job waits for, e.g. "waiting for a worker: ...".')
    source: Literal["catalog", "upload"] = Field("catalog", description="Catalog products, or uploaded ones.")
    options: dict[str, Any] = Field(description="The copy options every product is written with.")


class CopyJobList(_Closed):
    jobs: list[CopyJobStatus] = Field(description="Newest first.")
    total: int = Field(description="Jobs this key can see.")
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="The offset of the next page; null on the last one.")
