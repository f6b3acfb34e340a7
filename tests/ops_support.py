"""Shared by the ops tests: a small catalog, a word-overlap retriever, a scripted provider,
a loopback OpenAI-compatible upstream, and app factories (also used by gunicorn subprocesses)."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from service.app import Dependencies, build_dependencies, create_app
from service.catalog.load import Catalog
from service.catalog.product import Product
from service.errors import RetryableProviderError
from service.ops.metrics import Metrics
from service.provider.base import ChatRequest, Completion
from service.provider.chain import ProviderChain
from service.retrieve.base import Candidate
from service.settings import Settings, load_settings
from service.validate.recommend import Filters

PRODUCTS = [
    Product(id="p-down-1", title="Lightweight down jacket", category="Clothing/Outerwear", brand="North",
            price=129.0, currency="USD", tags=("winter", "down", "jacket"), description="Warm winter down jacket."),
    Product(id="p-down-2", title="羽绒服 冬季 加厚", category="Clothing/Outerwear", brand="雪山", price=699.0,
            currency="CNY", tags=("冬天", "羽绒服"), description="适合冬天穿的加厚羽绒服"),
    Product(id="p-laptop-1", title="Gaming laptop RTX 4060 16GB", category="Electronics/Laptops", brand="Acme",
            price=1299.0, currency="USD", tags=("gaming", "laptop"), description="RTX 4060 gaming laptop."),
    Product(id="p-laptop-2", title="Ultrabook 14 inch", category="Electronics/Laptops", brand="Thin",
            price=999.0, currency="USD", tags=("laptop", "light"), description="Light laptop for work."),
    Product(id="p-power-1", title="充电宝 5000mAh", category="Electronics/Accessories", brand="电力", price=99.0,
            currency="CNY", tags=("充电宝",), description="小巧 5000mAh 移动电源"),
    Product(id="p-phone-1", title="Phone case for iPhone 15", category="Electronics/Accessories", brand="Case",
            price=19.0, currency="USD", tags=("iphone", "case"), description="Slim case."),
]


def catalog() -> Catalog:
    return Catalog.of(PRODUCTS)


def _words(text: str) -> set[str]:
    text = text.lower()
    return set(re.findall(r"[a-z0-9]+", text)) | set(re.findall(r"[\u4e00-\u9fff]", text))


class WordRetriever:
    """Implements the Retriever protocol by word (and CJK character) overlap; honours the filters."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def search(self, query: str, filters: Filters, n: int) -> list[Candidate]:
        words = _words(query)
        found = []
        for product in self._catalog.products:
            if filters.in_stock and not product.in_stock:
                continue
            if filters.price_min is not None and (product.price is None or product.price < filters.price_min):
                continue
            if filters.price_max is not None and (product.price is None or product.price > filters.price_max):
                continue
            if filters.category and not product.category.startswith(filters.category):
                continue
            if filters.brand and product.brand != filters.brand:
                continue
            text = " ".join([product.title, product.description, " ".join(product.tags), product.category])
            overlap = words & _words(text)
            if overlap:
                found.append(Candidate(product, float(len(overlap)), tuple(sorted(overlap))))
        found.sort(key=lambda c: -c.score)
        return found[:n]


def picks_for(request: ChatRequest) -> str:
    """A valid model answer: the first k candidate ids named in the prompt."""
    text = "\n".join(m["content"] for m in request.messages)
    ids = list(dict.fromkeys(re.findall(r'"id": "([^"]+)"', text)))
    return json.dumps({"items": [{"id": i, "reason": f"fits: {i}"} for i in ids[:3]], "summary": "Good picks."})


class ScriptedProvider:
    """Implements the Provider protocol: answers from the prompt's candidates, or fails as scripted."""

    def __init__(
        self,
        name: str = "fake",
        model: str = "fake-model",
        failures: int = 0,
        tokens: tuple[int, int] = (100, 20),
        delay_s: float = 0.0,
    ):
        self.name = name
        self.model = model
        self.failures = failures
        self.tokens = tokens
        self.delay_s = delay_s
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.failures:
            self.failures -= 1
            raise RetryableProviderError("scripted failure", provider=self.name)
        return Completion(picks_for(request), self.name, request.model or self.model, *self.tokens)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "fake", "model": self.model}


def settings(**overrides: Any) -> Settings:
    """Test settings: a unique cache prefix, no hosted provider unless asked."""
    base: dict[str, Any] = {"cache_prefix": f"t{uuid.uuid4().hex[:12]}", "log_format": "json"}
    base.update(overrides)
    return load_settings(**base)


def deps(
    settings_: Settings, *providers: Any, chain: ProviderChain | None = None, metrics: Metrics | None = None
) -> Dependencies:
    """Dependencies over the test catalog; the chain is ``providers``, or ``chain``, or (neither) built from settings."""
    if chain is None and providers:
        chain = ProviderChain(list(providers))
    return build_dependencies(
        settings_, catalog=catalog(), retriever=WordRetriever(catalog()), chain=chain, metrics=metrics
    )


def app(settings_: Settings, *providers: Any, chain: ProviderChain | None = None, metrics: Metrics | None = None):  # noqa: ANN201
    return create_app(settings_, deps=deps(settings_, *providers, chain=chain, metrics=metrics))


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text; 0.0 when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def create_test_app():  # noqa: ANN201
    """``gunicorn 'tests.ops_support:create_test_app()'``: settings from the environment, chain from settings."""
    settings_ = load_settings()
    built = build_dependencies(settings_, catalog=catalog(), retriever=WordRetriever(catalog()))
    return create_app(settings_, deps=built)


# -- a loopback OpenAI-compatible upstream ---------------------------------------------------
class Upstream:
    """A scripted chat-completions server on 127.0.0.1 that records what it receives.

    ``script`` is consumed one entry per request: an int status (error reply) or "ok";
    when empty, every request gets "ok". ``delay_s`` slows every reply.
    """

    def __init__(self, script: list[int | str] | None = None, delay_s: float = 0.0, usage: tuple[int, int] = (120, 30)):
        self.script = list(script or [])
        self.delay_s = delay_s
        self.usage = usage
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with upstream._lock:
                    upstream.received.append(
                        {"path": self.path, "model": body.get("model"), "body": body,
                         "authorization": self.headers.get("Authorization")}
                    )
                    step = upstream.script.pop(0) if upstream.script else "ok"
                if upstream.delay_s:
                    time.sleep(upstream.delay_s)
                if step == "ok":
                    text = picks_for(ChatRequest(messages=tuple(body["messages"]), schema_name="", schema={}, deadline=0))
                    reply = {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": upstream.usage[0], "completion_tokens": upstream.usage[1],
                                  "total_tokens": sum(upstream.usage)},
                    }
                    self._send(200, reply)
                else:
                    self._send(int(step), {"error": {"message": f"scripted {step}", "type": "server_error"}})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def create_test_app_from(settings_: Settings):  # noqa: ANN201
    """For ``service.cli.serve.serve(settings, app_factory)``: the test catalog, the chain from settings."""
    built = build_dependencies(settings_, catalog=catalog(), retriever=WordRetriever(catalog()))
    return create_app(settings_, deps=built)
