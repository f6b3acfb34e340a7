"""The Flask app factory: builds every dependency once and hands it to the views."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, Response, g, request

from service.api.guard import install_guard
from service.api.copy import ENDPOINTS as COPY_ENDPOINTS
from service.api.copy import copy_blueprint
from service.api.health import ENDPOINTS as HEALTH_ENDPOINTS
from service.api.health import health_blueprint
from service.api.http import REQUEST_ID_HEADER, register_error_handlers, request_id, request_trace
from service.api.openapi import build_openapi
from service.api.ops import ENDPOINTS as OPS_ENDPOINTS
from service.api.ops import ops_blueprint
from service.api.recommend import ENDPOINTS as RECOMMEND_ENDPOINTS
from service.api.recommend import recommend_blueprint
from service.bulk.factory import copy_extra_terms
from service.cache.singleflight import SingleFlight
from service.cache.store import AnswerCache, MemoryCache, RedisCache, redis_client
from service.catalog.load import Catalog, load_catalog
from service.jobs.factory import build_copy_jobs
from service.jobs.service import CopyJobs
from service.ops.access_log import AccessLog
from service.ops.config_view import mask_url
from service.ops.cost import PriceTable
from service.ops.logs import configure_logging
from service.errors import ShopguideError
from service.ops.metrics import Metrics
from service.ops.privacy import Redactor
from service.pipeline.copy import CopyPipeline
from service.pipeline.recommend import RecommendPipeline
from service.prompt.render import PromptRenderer
from service.provider.chain import ProviderChain
from service.provider.registry import build_chain
from service.respond.common import Readiness
from service.retrieve.base import Retriever
from service.retrieve.factory import build_retriever
from service.retrieve.understand import QueryUnderstanding
from service.settings import Settings, load_settings

log = logging.getLogger(__name__)
VERSION = "0.1.0"


@dataclass
class Dependencies:
    """Everything a request needs, built once per process."""

    settings: Settings
    catalog: Catalog
    retriever: Retriever
    renderer: PromptRenderer
    cache: AnswerCache
    flights: SingleFlight
    chain: ProviderChain
    metrics: Metrics
    recommend: RecommendPipeline
    redactor: Redactor
    copy: CopyPipeline
    copy_jobs: CopyJobs


def build_dependencies(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    retriever: Retriever | None = None,
    chain: ProviderChain | None = None,
    metrics: Metrics | None = None,
) -> Dependencies:
    """Build the catalog, index, prompts, cache, providers and pipelines from settings.

    ``catalog``, ``retriever`` and ``chain`` may be given ready-made (tests reuse one index across apps).
    """
    metrics = metrics or Metrics(prices=PriceTable(settings.model_prices))
    catalog = catalog or load_catalog(settings.catalog, strict=settings.catalog_strict)
    if catalog.report.errors:
        log.warning("catalog loaded with rejected rows:\n%s", catalog.report.summary())
    retriever = retriever or build_retriever(catalog, settings)
    renderer = PromptRenderer(settings.prompts_dir)
    client = redis_client(settings.redis_url) if settings.redis_url else None
    cache: AnswerCache = (
        RedisCache(client, events=metrics) if client else MemoryCache(settings.cache_max_entries, events=metrics)
    )
    flights = SingleFlight(client, lock_ttl_s=settings.deadline_s)
    chain = chain or build_chain(settings, metrics, client)
    redactor = Redactor.from_settings(settings)
    recommend = RecommendPipeline(
        settings=settings,
        catalog=catalog,
        retriever=retriever,
        renderer=renderer,
        cache=cache,
        flights=flights,
        chain=chain,
        metrics=metrics,
        understanding=QueryUnderstanding.from_catalog(catalog),
        redactor=redactor,
    )
    copy = CopyPipeline(
        settings=settings,
        catalog=catalog,
        renderer=renderer,
        cache=cache,
        flights=flights,
        chain=chain,
        metrics=metrics,
        extra_terms=copy_extra_terms(settings),
    )
    copy_jobs = build_copy_jobs(settings, copy, client)
    return Dependencies(
        settings, catalog, retriever, renderer, cache, flights, chain, metrics, recommend, redactor, copy, copy_jobs
    )


def readiness(deps: Dependencies) -> Readiness:
    cache = deps.cache.status()
    return Readiness(
        ready=len(deps.catalog) > 0,
        catalog={
            "products": len(deps.catalog),
            "version": deps.catalog.version,
            "rejected_rows": len(deps.catalog.report.errors),
            "source": deps.catalog.report.source,
        },
        cache=cache,
        # /readyz is public: a base URL with credentials in it is shown masked.
        providers=[
            {k: mask_url(v) if k == "base_url" and isinstance(v, str) else v for k, v in info.items()}
            for info in deps.chain.describe()
        ],
        degraded_only=not deps.chain.providers,
        auth=deps.settings.auth_mode,
    )


def preload_models(chain: ProviderChain) -> None:
    """Load local models in the background, so this worker serves (from other providers) while they load.

    Runs in each worker process (the app is built after gunicorn forks): a model loaded in the
    master would be shared across fork with threads that do not survive it.
    """
    for provider in chain.providers:
        warm_up = getattr(provider, "warm_up", None)
        if warm_up is None:
            continue

        def load(warm_up=warm_up, name=provider.name) -> None:
            try:
                warm_up()
            except ShopguideError as exc:  # /readyz shows it through the provider's describe()
                log.error("preloading provider %s failed: %s", name, exc)

        threading.Thread(target=load, name=f"preload-{provider.name}", daemon=True).start()


def create_app(settings: Settings | None = None, *, deps: Dependencies | None = None) -> Flask:
    """The WSGI app. ``gunicorn 'service:create_app()'`` reads settings from the environment.

    :raises ConfigError: when a setting is invalid (start-up stops, naming the variable).
    """
    settings = settings or (deps.settings if deps else load_settings())
    configure_logging(settings)
    deps = deps or build_dependencies(settings)
    if settings.local_preload:  # on by default: a fallback's first request must not pay for loading the model
        preload_models(deps.chain)
    app = Flask("shopguide")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["shopguide"] = deps

    endpoints = HEALTH_ENDPOINTS + RECOMMEND_ENDPOINTS + COPY_ENDPOINTS + OPS_ENDPOINTS
    app.extensions["shopguide_endpoints"] = endpoints  # what access control and the OpenAPI document read
    openapi_doc = build_openapi(endpoints, title="shopguide", version=VERSION)
    app.register_blueprint(health_blueprint(lambda: readiness(deps), lambda: openapi_doc))
    app.register_blueprint(recommend_blueprint(deps.recommend))
    app.register_blueprint(copy_blueprint(deps.copy, deps.copy_jobs))
    app.register_blueprint(ops_blueprint(settings, deps.metrics))
    register_error_handlers(app)
    access_log = AccessLog(log_prompts=settings.log_prompts)

    @app.before_request
    def _start() -> None:
        g.started = time.monotonic()
        request_id()
        request_trace()

    install_guard(app, endpoints, settings, deps.metrics)  # after every route, after _start

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = request_id()
        response.headers[REQUEST_ID_HEADER] = rid
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.monotonic() - g.get("started", time.monotonic())
        deps.metrics.request(rule, response.status_code, elapsed)
        trace = request_trace()
        access_log.emit(
            request_id=rid,
            method=request.method,
            endpoint=rule,
            status=response.status_code,
            latency_s=elapsed,
            trace=trace,
            quiet=(request.url_rule is not None and trace.scope is None) or rule == "/metrics",  # probes, scrapes
        )
        return response

    return app
