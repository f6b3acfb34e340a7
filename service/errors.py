"""shopguide's one error tree.

::

    ShopguideError
    ├── ConfigError                 bad settings: start-up stops, naming the variable
    ├── CatalogError                a catalog file that cannot be used
    ├── ClientError                 the client's fault: a 4xx JSON error naming the field
    │   ├── InvalidRequest          400 (bad JSON, wrong type, out of range, unknown field)
    │   ├── Unauthorized            401
    │   ├── Forbidden               403
    │   ├── NotFound                404
    │   ├── PayloadTooLarge         413
    │   └── UnsupportedMediaType    415
    ├── ProviderError               one provider could not answer (translated at the provider boundary)
    │   ├── RetryableProviderError  429, 5xx, timeout, connection: worth another attempt
    │   │   ├── RateLimited         429; carries retry_after
    │   │   └── UpstreamTimeout
    │   ├── ProviderUnavailable     not configured, breaker open, queue full: skip to the next provider
    │   │   └── ExpectedTooSlow     its measured latency cannot fit the time left: skipped at once
    │   └── InvalidOutput           the answer did not match the output contract
    └── ServiceUnavailable          nothing could answer: 503 (or 504 when the deadline passed)

Provider errors keep the upstream's request id and status so logs can point at
the upstream's own records.
"""

from __future__ import annotations


class ShopguideError(Exception):
    """Base of every error shopguide raises on purpose."""


class ConfigError(ShopguideError):
    """The configuration is invalid; the message names the variable."""


class CatalogError(ShopguideError):
    """The catalog cannot be loaded (unreadable, or bad rows in strict mode)."""


class ClientError(ShopguideError):
    """A request the client can fix. Rendered as ``{"error": {code, message, field}}``."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidRequest(ClientError):
    status = 400
    code = "invalid_request"


class Unauthorized(ClientError):
    status = 401
    code = "unauthorized"


class Forbidden(ClientError):
    status = 403
    code = "forbidden"


class NotFound(ClientError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ClientError):
    status = 415
    code = "unsupported_media_type"


class ProviderError(ShopguideError):
    """One provider failed to answer one call."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id

    @property
    def kind(self) -> str:
        """A short, stable label for metrics and ``fallback_from``."""
        return type(self).__name__


class RetryableProviderError(ProviderError):
    """Transient: 429, 5xx, a timeout or a broken connection."""

    retry_after: float | None = None


class RateLimited(RetryableProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UpstreamTimeout(RetryableProviderError):
    pass


class ProviderUnavailable(ProviderError):
    """The provider is not usable right now (not configured, breaker open, queue full, deadline too short)."""


class ExpectedTooSlow(ProviderUnavailable):
    """Skipped: the provider's measured latency cannot fit the time the request has left (issue 14 item 8)."""


class InvalidOutput(ProviderError):
    """The provider answered, but not in the output contract (after repair and re-ask)."""


class ServiceUnavailable(ShopguideError):
    """Nothing could answer the request. 503, or 504 when the deadline passed."""

    def __init__(self, message: str, *, deadline_exceeded: bool = False, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After
        self.status = 504 if deadline_exceeded else 503
        self.code = "deadline_exceeded" if deadline_exceeded else "unavailable"
