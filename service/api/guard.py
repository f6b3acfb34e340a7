"""Access control for every route: API-key scopes from the Endpoint records, per-key rate limits, CORS.

Hooks run in this order on each request: the app's own start hook (timer,
request id), :meth:`Guard.authorize` (401/403), then flask-limiter (429). A
route without an Endpoint record needs the ``ops`` scope: forgetting to
document a route closes it rather than opening it.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable

from flask import Flask, Response, g, request
from flask_cors import CORS
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from service.api.http import REQUEST_ID_HEADER, error_response, request_trace
from service.api.openapi import Endpoint
from service.ops.auth import KeyRing
from service.ops.metrics import Metrics
from service.settings import Settings

log = logging.getLogger(__name__)

UNDECLARED_SCOPE = "ops"
REALM = 'Bearer realm="shopguide"'
_FLASK_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
PROVENANCE_HEADERS = ["X-Shopguide-Provider", "X-Shopguide-Cache", "X-Shopguide-Prompt-Version"]


def openapi_path(flask_rule: str) -> str:
    """``/docs/static/<path:name>`` -> ``/docs/static/{name}``."""
    return _FLASK_PARAM.sub(r"{\1}", flask_rule)


def route_scopes(app: Flask, endpoints: Iterable[Endpoint]) -> tuple[dict[tuple[str, str], str | None], list[str]]:
    """Scope by (flask rule, method) for every route of ``app``, and the routes no Endpoint declares."""
    declared = {(ep.path, ep.method.upper()): ep.scope for ep in endpoints}
    scopes: dict[tuple[str, str], str | None] = {}
    undeclared: list[str] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods or ()):
            if method == "OPTIONS":
                continue
            lookup = "GET" if method == "HEAD" else method
            key = (openapi_path(rule.rule), lookup)
            if key in declared:
                scopes[(rule.rule, method)] = declared[key]
            else:
                scopes[(rule.rule, method)] = UNDECLARED_SCOPE
                if method != "HEAD":
                    undeclared.append(f"{method} {rule.rule}")
    return scopes, undeclared


class Guard:
    """Authenticates and authorizes each request against the route's declared scope."""

    def __init__(self, keyring: KeyRing, scopes: dict[tuple[str, str], str | None], metrics: Metrics) -> None:
        self.keyring = keyring
        self._scopes = scopes
        self._metrics = metrics

    def authorize(self) -> Response | None:
        """before_request: None lets the request through; a 401/403 response stops it."""
        trace = request_trace()
        rule = request.url_rule
        if rule is None or request.method == "OPTIONS":  # 404/405 and CORS preflights need no key
            return None
        scope = self._scopes.get((rule.rule, request.method), UNDECLARED_SCOPE)
        trace.scope = scope
        if scope is None or self.keyring.open:
            trace.principal = None
            return None
        header = request.headers.get("Authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return self._refuse(401, "unauthorized", "an API key is required: send Authorization: Bearer <key>", REALM)
        principal = self.keyring.authenticate(token.strip())
        if principal is None:
            return self._refuse(401, "unauthorized", "invalid API key", f'{REALM}, error="invalid_token"')
        trace.principal = principal.name
        if scope not in principal.scopes:
            return self._refuse(
                403,
                "forbidden",
                f"this API key lacks the {scope} scope",
                f'{REALM}, error="insufficient_scope", scope="{scope}"',
            )
        return None

    def _refuse(self, status: int, code: str, message: str, challenge: str) -> Response:
        self._metrics.auth_failures.labels(str(status)).inc()
        response = error_response(status, code, message)
        response.headers["WWW-Authenticate"] = challenge
        return response


def _client_id() -> str:
    """The rate-limit bucket: the API key's name, or the client address in open mode."""
    trace = request_trace()
    return f"key:{trace.principal}" if trace.principal else f"ip:{request.remote_addr or 'unknown'}"


def _limiter(app: Flask, settings: Settings, metrics: Metrics) -> Limiter:
    def limit_for_request() -> str:
        scope = request_trace().scope
        if scope is None:
            return ""
        limit = settings.rate_limit_for(scope)
        return "" if limit == "off" else limit

    def on_breach(limit: RequestLimit) -> None:
        g.retry_at = limit.reset_at
        metrics.rate_limited.labels(request_trace().scope or "none").inc()

    limiter = Limiter(
        _client_id,
        app=app,
        default_limits=[limit_for_request],
        strategy=settings.rate_limit_strategy,
        storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if settings.redis_url else {},
        key_prefix=f"{settings.cache_prefix}:rl",
        # Rate-limit headers on every response cost a second storage call each; only 429s carry Retry-After.
        headers_enabled=False,
        on_breach=on_breach,
        # Redis trouble must not fail requests: count in memory until it is back.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Response:
        retry_at = g.get("retry_at") or time.time() + 1
        wait = min(max(1, math.ceil(retry_at - time.time())), exc.limit.limit.get_expiry())  # never past one window
        response = error_response(429, "rate_limited", f"rate limit {exc.limit.limit} exceeded; retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response

    return limiter


def install_guard(app: Flask, endpoints: Iterable[Endpoint], settings: Settings, metrics: Metrics) -> Guard:
    """Wire access control, rate limits, CORS and proxy headers into ``app``; call after registering every route."""
    if settings.forwarded_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.forwarded_hops, x_proto=settings.forwarded_hops)  # type: ignore[method-assign]
    scopes, undeclared = route_scopes(app, endpoints)
    for route in undeclared:
        log.warning("route %s has no Endpoint record; it requires the %s scope", route, UNDECLARED_SCOPE)
    guard = Guard(KeyRing(settings.api_keys), scopes, metrics)
    app.before_request(guard.authorize)  # before the limiter's hook, which needs the principal
    if settings.rate_limit != "off" or any(v != "off" for v in settings.rate_limit_scopes.values()):
        app.extensions["shopguide_limiter"] = _limiter(app, settings, metrics)
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/v1/*": {"origins": list(settings.cors_origins)}},
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", *PROVENANCE_HEADERS],
            methods=["GET", "POST", "OPTIONS"],
            max_age=600,
        )
    return guard
