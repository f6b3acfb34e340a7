"""The /v1/copy response, the per-product record of bulk runs and jobs, and the job views."""

from __future__ import annotations

from typing import Any, Literal

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


class DroppedVariant(_Closed):
    """A variant that failed the checks after the one regeneration; its text is never returned."""

    reasons: list[str] = Field(description="Why it was dropped, e.g. 'banned words: cheap'.")
    checks: CopyChecks


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
    dropped_variants: list[DroppedVariant] = Field(default_factory=list)
    limits: ChannelLimits = Field(description="The length limits the copy was checked against.")
    provider: str | None = Field(description="The provider that wrote the copy; null when degraded.")
    model: str | None = None
    degraded: bool = Field(False, description="True when no model answered and the copy is built from product facts.")
    fallback_from: list[str] = Field(default_factory=list, description="Providers that failed first, as name:error.")
    prompt_version: str
    usage: Usage = Field(default_factory=Usage)


class CopyResponse(CopyAnswer):
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
    dropped_variants: list[DroppedVariant] = Field(default_factory=list)
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
            dropped_variants=response.dropped_variants,
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
    for dropped in response.dropped_variants:
        for reason in dropped.reasons:
            if reason not in seen:
                seen.append(reason)
    return "; ".join(seen) or "no variants"


JobState = Literal["queued", "running", "completed"]


class CopyJobCreated(_Closed):
    job_id: str
    state: JobState
    total: int
    status_url: str
    results_url: str


class CopyJobStatus(_Closed):
    job_id: str
    state: JobState = Field(description="queued: nothing finished yet; running; completed: every product has a result.")
    total: int = Field(description="Products in the job.")
    done: int = Field(description="Products with a result (ok or failed).")
    failed: int = Field(description="Products whose result is a failure.")
    created_at: float = Field(description="Unix time the job was created.")
    backend: Literal["rq", "thread"] = Field(description="rq: queued for `shopguide worker`; thread: in this process.")
    options: dict[str, Any] = Field(description="The copy options every product is written with.")
