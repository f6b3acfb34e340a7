"""One log line per request: who, what, how it went, what it cost; never the shopper's text by default."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from service.ops.trace import RequestTrace

ACCESS_LOGGER = "shopguide.access"


def text_digest(text: str) -> str:
    """A short SHA-256 of the text, enough to correlate repeated requests without storing them."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class AccessLog:
    """Writes the per-request line to the ``shopguide.access`` logger."""

    def __init__(self, *, log_prompts: bool = False, logger: logging.Logger | None = None) -> None:
        self._log_prompts = log_prompts
        self._log = logger or logging.getLogger(ACCESS_LOGGER)

    def fields(
        self, *, request_id: str, method: str, endpoint: str, status: int, latency_s: float, trace: RequestTrace | None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "endpoint": endpoint,
            "status": status,
            "latency_ms": round(latency_s * 1000, 3),
        }
        if trace is not None:
            fields.update(
                client=trace.principal,
                provider=trace.provider,
                model=trace.model,
                cached=trace.cached,
                degraded=trace.degraded,
                coalesced=trace.coalesced,
                tokens_in=trace.tokens_in,
                tokens_out=trace.tokens_out,
            )
            if trace.shopper_text is not None:
                fields["query_chars"] = len(trace.shopper_text)
                fields["query_sha256"] = text_digest(trace.shopper_text)
                if self._log_prompts:
                    fields["query"] = trace.shopper_text
        return fields

    def emit(
        self,
        *,
        request_id: str,
        method: str,
        endpoint: str,
        status: int,
        latency_s: float,
        trace: RequestTrace | None,
        quiet: bool = False,
    ) -> None:
        """Log the request; ``quiet`` ones (probes, scrapes) at DEBUG so they do not flood the log."""
        level = logging.DEBUG if quiet else logging.INFO
        if not self._log.isEnabledFor(level):
            return
        fields = self.fields(
            request_id=request_id, method=method, endpoint=endpoint, status=status, latency_s=latency_s, trace=trace
        )
        self._log.log(level, "%s %s %s", method, endpoint, status, extra=fields)
