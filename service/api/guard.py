"""Access control for every route: API-key scopes from the Endpoint records, per-key rate limits, CORS.

Hooks run in this order on each request: the app's own start hook (timer,
request id), then :meth:`Guard.authorize`: API key (401), scope (403), rate
limit (429). A route without an Endpoint record needs the ``ops`` scope:
forgetting to document a route closes it rather than opening it.

A publishable key (``pk_...``, in a storefront page) has the ``recommend`` scope only; its request must carry
an ``Origin`` header naming one of the key's origins (403 ``origin_not_allowed`` otherwise: a browser always
sends it on cross-origin calls, so another site cannot use the key from its pages), and it is limited per key
(``SHOPGUIDE_PUBLISHABLE_RATE_LIMIT``) and per client IP address (``SHOPGUIDE_PUBLISHABLE_IP_RATE_LIMIT``), so one
script copying the key from the page cannot spend every shopper's budget. The IP is hashed before it is a
rate-limit key (never stored or logged as such). CORS allows the keys' origins on ``/v1/recommend`` only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable

from flask import Flask, Response, request
from flask_cors import CORS

from service.api.http import REQUEST_ID_HEADER, error_response, request_trace
from service.api.openapi import Endpoint
from service.ops.auth import KeyRing
from service.ops.metrics import Metrics
from service.ops.ratelimit import PUBLISHABLE, PUBLISHABLE_IP, RateLimiter
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
    """Authenticates, authorizes and rate-limits each request against the route's declared scope."""

    def __init__(
        self,
        keyring: KeyRing,
        scopes: dict[tuple[str, str], str | None],
        metrics: Metrics,
        limiter: RateLimiter | None = None,
        *,
        trusted_proxies: int = 0,
    ) -> None:
        self.keyring = keyring
        self.limiter = limiter
        self._trusted_proxies = trusted_proxies
        self._scopes = scopes
        self._metrics = metrics

    def authorize(self) -> Response | None:
        """before_request: None lets the request through; a 401/403/429 response stops it."""
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not one per use
        rule = req.url_rule
        if rule is None or req.method == "OPTIONS":  # 404/405 and CORS preflights need no key
            return None
        trace = request_trace()
        scope = self._scopes.get((rule.rule, req.method), UNDECLARED_SCOPE)
        trace.scope = scope
        if scope is None:
            return None
        if self.keyring.open:  # open mode: no keys to count against (a shared proxy address would throttle everyone)
            return None
        kind, _, token = req.headers.get("Authorization", "").partition(" ")
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
        if principal.publishable:
            return self._publishable(principal.name, principal.origins or frozenset(), req)
        return self._limit(scope, f"key:{principal.name}")

    def _publishable(self, name: str, origins: frozenset[str], req: object) -> Response | None:
        origin = req.headers.get("Origin", "").rstrip("/")  # type: ignore[attr-defined]
        if origin not in origins:
            self._metrics.auth_failures.labels("403").inc()
            what = f"origin {origin}" if origin else "a request without an Origin header"
            return error_response(
                403, "origin_not_allowed", f"this publishable key may not be used from {what}", field="Origin"
            )
        # the address first: a request refused for its address does not spend the key's (every shopper's) budget
        return self._limit(PUBLISHABLE_IP, f"pk:{name}:{_hashed(self.client_ip(req))}") or self._limit(
            PUBLISHABLE, f"pk:{name}"
        )

    def client_ip(self, req: object) -> str:
        """The client's address: the connection's, or the one ``trusted_proxies`` hops from the right of
        X-Forwarded-For (each trusted proxy appends the address it got the request from)."""
        remote = req.remote_addr or ""  # type: ignore[attr-defined]
        if not self._trusted_proxies:
            return remote
        hops = [h.strip() for h in req.headers.get("X-Forwarded-For", "").split(",") if h.strip()]  # type: ignore[attr-defined]
        return hops[-self._trusted_proxies] if len(hops) >= self._trusted_proxies else (hops[0] if hops else remote)

    def _limit(self, scope: str, client: str) -> Response | None:
        if self.limiter is None:
            return None
        wait = self.limiter.check(scope, client)
        if wait is None:
            return None
        self._metrics.rate_limited.labels(scope).inc()
        what = {PUBLISHABLE: "this publishable key", PUBLISHABLE_IP: "this client address"}.get(scope, scope)
        response = error_response(429, "rate_limited", f"rate limit for {what} exceeded; retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response

    def _refuse(self, status: int, code: str, message: str, challenge: str) -> Response:
        self._metrics.auth_failures.labels(str(status)).inc()
        response = error_response(status, code, message)
        response.headers["WWW-Authenticate"] = challenge
        return response


def _hashed(ip: str) -> str:
    return hashlib.sha256(ip.encode()).hexdigest()[:16]


def cors_resources(settings: Settings) -> dict[str, dict[str, list[str]]]:
    """flask-cors resources: ``SHOPGUIDE_CORS_ORIGINS`` on every /v1 route, and the publishable keys' origins on
    /v1/recommend (the longer pattern wins in flask-cors)."""
    resources: dict[str, dict[str, list[str]]] = {}
    everywhere = list(settings.cors_origins)
    storefronts = sorted({o for entry in settings.publishable_keys for o in entry.origins} - set(everywhere))
    if storefronts:
        both = ["*"] if "*" in everywhere else [*everywhere, *storefronts]
        resources[r"/v1/recommend"] = {"origins": both}
    if everywhere:
        resources[r"/v1/*"] = {"origins": everywhere}
    return resources


def install_guard(app: Flask, endpoints: Iterable[Endpoint], settings: Settings, metrics: Metrics) -> Guard:
    """Wire access control, rate limits and CORS into ``app``; call after registering every route."""
    scopes, undeclared = route_scopes(app, endpoints)
    for route in undeclared:
        log.warning("route %s has no Endpoint record; it requires the %s scope", route, UNDECLARED_SCOPE)
    guard = Guard(
        KeyRing(settings.api_keys, settings.publishable_keys),
        scopes,
        metrics,
        RateLimiter.from_settings(settings),
        trusted_proxies=settings.trusted_proxies,
    )
    app.before_request(guard.authorize)
    app.extensions["shopguide_guard"] = guard
    resources = cors_resources(settings)
    if resources:
        CORS(
            app,
            resources=resources,
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", *PROVENANCE_HEADERS],
            methods=["GET", "POST", "OPTIONS"],
            max_age=600,
        )
    return guard
