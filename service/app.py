"""The Flask app factory: builds every dependency once and hands it to the views."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, Response, g, request
from flask_compress import Compress

from service.api.chat import ENDPOINTS as CHAT_ENDPOINTS
from service.api.chat import chat_blueprint
from service.api.copy import ENDPOINTS as COPY_ENDPOINTS
from service.api.copy import copy_blueprint
from service.api.events import ENDPOINTS as EVENTS_ENDPOINTS
from service.api.events import events_blueprint
from service.api.guard import install_guard
from service.api.health import ENDPOINTS as HEALTH_ENDPOINTS
from service.api.health import health_blueprint
from service.api.http import (
    REQUEST_ID_HEADER,
    AnyTextConverter,
    buffer_streamed_body,
    register_error_handlers,
    request_id,
    request_trace,
)
from service.api.openapi import build_openapi
from service.api.ops import ENDPOINTS as OPS_ENDPOINTS
from service.api.ops import ops_blueprint
from service.api.recommend import ENDPOINTS as RECOMMEND_ENDPOINTS
from service.api.recommend import recommend_blueprint
from service.api.users import ENDPOINTS as USERS_ENDPOINTS
from service.api.users import users_blueprint
from service.bulk.factory import copy_extra_terms
from service.cache.redis_circuit import guarded_client, redis_breaker
from service.cache.singleflight import SingleFlight
from service.cache.store import AnswerCache, MemoryCache, RedisCache, redis_client
from service.catalog.load import Catalog, load_catalog
from service.chat.pipeline import ChatPipeline
from service.chat.session import MemorySessions, RedisSessions, SessionStore
from service.db.engine import build_engine
from service.db.migrate import upgrade as migrate_database
from service.db.reviews import ReviewStore
from service.errors import ShopguideError
from service.events.factory import build_event_store
from service.events.follow import BLOCK_MS, StreamFollower
from service.events.ingest import EventIngest
from service.events.keys import UserKeys
from service.events.redis_store import RedisEventStore
from service.events.store import EventStore
from service.jobs.factory import build_copy_jobs
from service.jobs.rq_backend import queue_name
from service.jobs.service import CopyJobs
from service.ops.access_log import AccessLog
from service.ops.config_view import mask_url
from service.ops.cost import PriceTable
from service.ops.logs import configure_logging, route_transformers_logs
from service.ops.metrics import JobQueueCollector, Metrics
from service.ops.privacy import Redactor
from service.personalize.contract import Recommender
from service.personalize.factory import build_recommender as build_learned
from service.personalize.step import Personalizer
from service.pipeline.copy import CopyPipeline
from service.pipeline.flow import Flow
from service.pipeline.recommend import RecommendPipeline
from service.prompt.render import PromptRenderer
from service.provider.breaker import CircuitBreaker
from service.provider.chain import ProviderChain
from service.provider.registry import build_chain
from service.respond.common import Readiness
from service.retrieve.base import Retriever
from service.retrieve.factory import build_retriever
from service.retrieve.lexical import LexicalIndex
from service.retrieve.understand import QueryUnderstanding
from service.settings import Settings, load_settings
from service.studio.api import ENDPOINTS as STUDIO_ENDPOINTS
from service.studio.api import studio_api_blueprint
from service.studio.opsview import RateWindow, ops_state_builder
from service.studio.pages import ENDPOINTS as PAGE_ENDPOINTS
from service.studio.pages import pages_blueprint

log = logging.getLogger(__name__)
SESSION_REDIS_TIMEOUT_S = 0.25  # issue 15: conversation sessions' Redis calls
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
    events: EventStore
    ingest: EventIngest
    personalizer: Personalizer
    reviews: ReviewStore  # issue 16: approved copy and its history in the database
    follower: StreamFollower | None
    redis_breaker: CircuitBreaker | None = None
    chat: ChatPipeline | None = None  # issue 15


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
    catalog = catalog or load_catalog(settings.catalog, strict=settings.catalog_strict, columns=settings.catalog_columns)
    if catalog.report.errors:
        log.warning("catalog loaded with rejected rows:\n%s", catalog.report.summary())
    retriever = retriever or build_retriever(catalog, settings)
    renderer = PromptRenderer(settings.prompts_dir)
    # Issue 13 item 5: the request path's Redis calls time out in tens of ms and are skipped after a few failures.
    redis_circuit = redis_breaker(
        settings.redis_breaker_failures, settings.redis_breaker_cooldown_s, on_change=metrics.breaker_state
    ) if settings.redis_url else None
    client = (
        redis_client(settings.redis_url, socket_timeout_s=settings.redis_timeout_s, breaker=redis_circuit)
        if settings.redis_url
        else None
    )
    if client is not None:  # issue 14: the copy-job queue's depth, age and workers, read at scrape time
        metrics.watch(JobQueueCollector(client, queue_name(settings.cache_prefix)))
    cache: AnswerCache = (  # a miss's answer is written to Redis after its response, not before (issue 17 §4)
        RedisCache(client, events=metrics, write_behind=True)
        if client
        else MemoryCache(settings.cache_max_entries, events=metrics)
    )
    flights = SingleFlight(client, lock_ttl_s=settings.deadline_s)
    chain = chain or build_chain(settings, metrics, client)
    redactor = Redactor.from_settings(settings)
    # -- issue 12: shopper events and personalization
    user_keys = UserKeys.from_settings(settings)
    events = build_event_store(settings, client)
    since = events.last_id() if isinstance(events, RedisEventStore) else "0-0"  # the model learns what came before
    recommender = build_recommender(settings, catalog, retriever, events)
    follower = follow_events(settings, events, recommender, since)
    ingest = EventIngest(
        events,
        catalog,
        user_keys,
        max_future_ms=settings.events_max_future_s * 1000,
        recommender=None if follower else recommender,  # a follower hands it every worker's events
        metrics=metrics,
    )
    personalizer = Personalizer(
        settings=settings, catalog=catalog, retriever=retriever, store=events, recommender=recommender, keys=user_keys
    )
    understanding = QueryUnderstanding.from_catalog(catalog)
    recommend = RecommendPipeline(
        settings=settings,
        catalog=catalog,
        retriever=retriever,
        renderer=renderer,
        cache=cache,
        flights=flights,
        chain=chain,
        metrics=metrics,
        understanding=understanding,
        redactor=redactor,
        personalizer=personalizer,
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
    # issue 15: conversations, their sessions in Redis (in-process without REDIS_URL)
    # A session is state, not a cache: its own client waits longer than the cache's tens of ms and has its own
    # breaker, so cache timeouts under load do not cost a conversation its memory.
    sessions: SessionStore = (
        RedisSessions(
            guarded_client(
                settings.redis_url,
                timeout_s=max(settings.redis_timeout_s, SESSION_REDIS_TIMEOUT_S),
                breaker=redis_breaker(settings.redis_breaker_failures, settings.redis_breaker_cooldown_s),
            ),
            settings.cache_prefix,
            settings.session_ttl_s,
        )
        if settings.redis_url
        else MemorySessions(settings.session_ttl_s, settings.session_max)
    )
    chat = ChatPipeline(
        settings=settings,
        catalog=catalog,
        retriever=retriever,
        renderer=renderer,
        flow=Flow(settings=settings, cache=cache, flights=flights, chain=chain, metrics=metrics),
        chain=chain,
        metrics=metrics,
        understanding=understanding,
        redactor=redactor,
        sessions=sessions,
        personalizer=personalizer,
    )
    reviews = ReviewStore(build_engine(settings))  # issue 16
    return Dependencies(
        settings, catalog, retriever, renderer, cache, flights, chain, metrics, recommend, redactor, copy, copy_jobs,
        events, ingest, personalizer, reviews, follower, redis_circuit, chat,
    )


def build_recommender(settings: Settings, catalog: Catalog, retriever: Retriever, events: EventStore) -> Recommender:
    """The learned recommender (item-to-item, content, popularity: ``service/personalize/factory.py``), trained
    on the event store's log and rebuilt in the background as events arrive."""
    lexical = getattr(retriever, "lexical", retriever)
    reusable = isinstance(lexical, LexicalIndex) and lexical.catalog.version == catalog.version
    return build_learned(settings, catalog, events, lexical=lexical if reusable else None)


def follow_events(settings: Settings, events: EventStore, recommender: Recommender, since: str) -> StreamFollower | None:
    """With Redis, a thread that tells the recommender of every event after ``since``, whichever worker took it."""
    if not isinstance(events, RedisEventStore) or not settings.redis_url:
        return None  # the in-process store: the ingest step tells the recommender itself
    client = redis_client(settings.redis_url, socket_timeout_s=BLOCK_MS / 1000 + 5)
    return StreamFollower(client, events.stream, recommender, since=since).start()


def readiness(deps: Dependencies) -> Readiness:
    cache = deps.cache.status()
    if deps.redis_breaker is not None:  # while open, requests skip Redis (answer uncached) until a trial succeeds
        cache["breaker"] = deps.redis_breaker.describe()
    # /readyz is public: a base URL with credentials in it is shown masked.
    providers = [
        {k: mask_url(v) if k == "base_url" and isinstance(v, str) else v for k, v in info.items()}
        for info in deps.chain.describe()
    ]
    jobs = deps.copy_jobs.health()
    personalization = personalization_status(deps.events)
    return Readiness(
        ready=len(deps.catalog) > 0,
        catalog={
            "products": len(deps.catalog),
            "version": deps.catalog.version,
            "rejected_rows": len(deps.catalog.report.errors),
            "source": deps.catalog.report.source,
        },
        cache=cache,
        providers=providers,
        degraded_only=not deps.chain.providers,
        auth=deps.settings.auth_mode,
        problems=readiness_problems(cache, providers, jobs) + personalization_problems(personalization),
        jobs=jobs,
        personalization=personalization,
    )


def readiness_problems(cache: dict, providers: list[dict], jobs: dict) -> list[str]:
    """What /readyz names as wrong while the service still answers (issue 13 items 4, 5, 7).

    None of these makes the instance unready: every instance shares the same Redis and upstream, so
    taking them out of the load balancer would turn a degraded service into no service.
    """
    problems = []
    for info in providers:
        name, breaker, answers = info.get("name"), info.get("breaker") or {}, info.get("answers") or {}
        if breaker.get("state") == "open":
            problems.append(f"provider {name}: circuit breaker open for {breaker.get('open_for_s')} s more")
        if answers.get("failing"):
            problems.append(
                f"provider {name}: {answers['invalid_share']:.0%} of its last {answers['recent']} answers were invalid"
            )
    if not cache.get("ok", True):
        problems.append(f"cache: Redis unavailable, answering uncached ({cache.get('error')})")
    elif (cache.get("breaker") or {}).get("state") == "open":
        problems.append("cache: Redis skipped after repeated failures, answering uncached")
    if not jobs.get("ok", True):
        problems.append(f"copy jobs: backend {jobs.get('backend')} unavailable, job requests answer 503")
    if jobs.get("waiting_for_worker"):
        problems.append(f"copy jobs: {jobs.get('queued_chunks')} chunks waiting for a worker and no `shopguide worker` alive")
    return problems


def personalization_status(events: EventStore) -> dict[str, object]:
    store = events.status()
    if store["ok"]:
        return {"active": True, "store": store}
    return {"active": False, "store": store, "reason": "event store unreachable: answers are not personalized"}


def personalization_problems(personalization: dict[str, object]) -> list[str]:
    return [] if personalization["active"] else [f"personalization off: {personalization['reason']}"]


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
                route_transformers_logs()  # issue 14: the model's load and generation warnings as JSON lines too
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
    if settings.db_migrate:  # `shopguide serve` migrated in the master already: this is then a quick no-op
        migrate_database(deps.reviews.engine)
    app = Flask("shopguide")
    app.url_map.converters["text"] = AnyTextConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["shopguide"] = deps

    endpoints = (
        HEALTH_ENDPOINTS + RECOMMEND_ENDPOINTS + CHAT_ENDPOINTS + COPY_ENDPOINTS + OPS_ENDPOINTS
        + EVENTS_ENDPOINTS + USERS_ENDPOINTS + STUDIO_ENDPOINTS + PAGE_ENDPOINTS
    )
    app.extensions["shopguide_endpoints"] = endpoints  # what access control and the OpenAPI document read
    openapi_doc = build_openapi(endpoints, title="shopguide", version=VERSION)
    app.register_blueprint(health_blueprint(lambda: readiness(deps), lambda: openapi_doc))
    app.register_blueprint(recommend_blueprint(deps.recommend))
    if deps.chat is not None:
        app.register_blueprint(chat_blueprint(deps.chat))
    app.register_blueprint(copy_blueprint(deps.copy, deps.copy_jobs))
    app.register_blueprint(ops_blueprint(settings, deps.metrics))
    app.register_blueprint(events_blueprint(deps.ingest, settings.events_max_body_bytes))
    app.register_blueprint(users_blueprint(deps.events, deps.personalizer.keys, deps.cache,
                                           deps.chat.forget_user if deps.chat is not None else None))
    app.register_blueprint(
        studio_api_blueprint(
            catalog=deps.catalog,
            retriever=deps.retriever,
            pipeline=deps.copy,
            jobs=deps.copy_jobs,
            reviews=deps.reviews,
            ops_state=ops_state_builder(deps, RateWindow(deps.metrics), deps.reviews),
        )
    )
    app.register_blueprint(pages_blueprint(auth_mode=settings.auth_mode, version=VERSION))
    # Pages and their assets go compressed (issue 16: page weight); API bodies stay as they are for every client.
    app.config.update(
        COMPRESS_MIMETYPES=["text/html", "text/css", "application/javascript", "text/javascript"],
        COMPRESS_ALGORITHM=["br", "gzip"],
    )
    Compress(app)
    register_error_handlers(app)
    access_log = AccessLog(log_prompts=settings.log_prompts)

    @app.before_request
    def _start() -> None:
        g.started = time.monotonic()
        request_id()
        request_trace()
        buffer_streamed_body(settings.max_body_bytes)  # chunked bodies: 413/400 exactly as with Content-Length

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
