"""What one request did, filled in by the view and the pipeline, read by the access log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RequestTrace:
    """Per-request facts for the access log; lives on ``flask.g`` for one request, never shared."""

    principal: str | None = None
    scope: str | None = None
    provider: str | None = None
    model: str | None = None
    cached: bool | None = None
    degraded: bool | None = None
    coalesced: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    shopper_text: str | None = None  # raw; the access log decides what of it to write

    def answered(self, provider: str | None, model: str | None, *, cached: bool, degraded: bool) -> None:
        """Who wrote the answer this request got, and how."""
        self.provider = provider
        self.model = model
        self.cached = cached
        self.degraded = degraded

    def add_usage(self, tokens_in: int, tokens_out: int) -> None:
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
