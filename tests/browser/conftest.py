"""Browser tests: the real server (``shopguide serve``) and a real ``shopguide worker`` as processes, on real Redis
and PostgreSQL, with the scripted upstream, driven through Playwright with Debian's ``/usr/bin/chromium``.

A failed test leaves a screenshot of its page(s) under ``SHOPGUIDE_BROWSER_OUTPUT`` (default
``.cache/browser/`` in the repository).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.catalog.load import load_catalog
from service.ops.auth import hash_key
from tests.support.api_keys import ENTRIES
from tests.support.api_keys import KEYS as BASE_KEYS
from tests.support.databases import postgres_database
from tests.support.openai_upstream import OpenAIUpstream, reply_fn
from tests.support.redis_db import REDIS_URL, delete_keys
from tests.support.studio_copy import shop_model

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SHOPGUIDE_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(os.environ.get("SHOPGUIDE_BROWSER_OUTPUT", REPO_ROOT / ".cache" / "browser"))
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
XSS_TITLE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">防风羽绒马甲'
XSS_ID = "XSS-0001"
# The storefront demo's key: recommend, and events:write for its "not interested" / "bought" buttons.
KEYS = {**BASE_KEYS, "shopper": f"sg_test_shopper_{uuid.uuid4().hex}"}
BROWSER_ENTRIES = f"{ENTRIES},shopper:{hash_key(KEYS['shopper'])}:recommend+events:write"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``shopguide serve`` and one ``shopguide worker``, restartable (SIGKILL, as a crash)."""

    def __init__(self, env: dict[str, str], port: int, logs: Path) -> None:
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.logs = logs
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / log_name).open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "service", *args], env=self.env, cwd=REPO_ROOT, stdout=log, stderr=log,
            start_new_session=True,
        )

    def start(self) -> None:
        self.server = self._spawn(["serve", "--port", str(self.port), "--workers", "1", "--threads", "16"], "server.log")
        self.worker = self._spawn(["worker", "--concurrency", "8", "--lease", "2", "--sweep-interval", "1"], "worker.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited: {(self.logs / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    ready = httpx.get(self.url + "/readyz", timeout=1).json()
                    if ready["jobs"]["workers"]:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready: {(self.logs / 'server.log').read_text()[-3000:]}")

    def kill(self) -> None:
        for proc in (self.server, self.worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture(scope="session")
def browser_upstream() -> Iterator[OpenAIUpstream]:
    with OpenAIUpstream() as server:
        yield server


@pytest.fixture
def upstream(browser_upstream: OpenAIUpstream) -> Iterator[OpenAIUpstream]:
    """The scripted model for the server: grounded copy (one unsupported claim in variant 1) and picks."""
    browser_upstream.reset()
    browser_upstream.default(reply_fn(shop_model))
    yield browser_upstream
    browser_upstream.reset()
    browser_upstream.default(reply_fn(shop_model))


@pytest.fixture(scope="session")
def live(browser_upstream: OpenAIUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("live")
    catalog = root / "catalog.jsonl"
    rows = [p.model_dump(mode="json") for p in load_catalog(None).products]
    rows.append({**rows[0], "id": XSS_ID, "title": XSS_TITLE, "price": 299.0})
    catalog.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    prefix = f"sgbrowser-{uuid.uuid4().hex[:10]}"
    browser_upstream.default(reply_fn(shop_model))
    with postgres_database() as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_", "DATABASE_URL"))}
        env.update(
            PYTHONPATH=str(REPO_ROOT),
            OPENAI_BASE_URL=browser_upstream.base_url,
            OPENAI_API_KEY="sk-browser-test-0123456789",
            SHOPGUIDE_PROVIDERS="openai",
            SHOPGUIDE_CATALOG=str(catalog),
            SHOPGUIDE_INDEX_DIR=str(root / "index"),
            SHOPGUIDE_CACHE_PREFIX=prefix,
            SHOPGUIDE_CACHE_TTL_S="0",
            SHOPGUIDE_API_KEYS=BROWSER_ENTRIES,
            SHOPGUIDE_TIMEOUT_S="2",
            SHOPGUIDE_DEADLINE_S="6",
            SHOPGUIDE_RETRIES="0",
            SHOPGUIDE_BREAKER_FAILURES="2",
            SHOPGUIDE_BREAKER_COOLDOWN_S="10",
            SHOPGUIDE_COPY_JOB_CHUNK_SIZE="10",
            SHOPGUIDE_LOG_LEVEL="WARNING",
            SHOPGUIDE_RATE_LIMIT="off",
            REDIS_URL=REDIS_URL,
            DATABASE_URL=database_url,
        )
        server = LiveServer(env, _free_port(), root)
        server.start()
        try:
            yield server
        finally:
            server.kill()
            delete_keys(prefix)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash.setdefault(_FAILED, False)
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def open_page(chromium: Any, live: LiveServer, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_page(path, key="writer", width=1280, bypass_csp=False)``: a fresh browser context on a page, signed in.

    Every page opened is screenshotted into OUTPUT when the test fails.
    """
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_(path: str, key: str | None = "writer", *, width: int = 1280, height: int = 900, bypass_csp: bool = False) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": height}, bypass_csp=bypass_csp, locale="en-US", accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        pages.append(page)
        page.goto(live.url + path)
        if key:
            page.fill("#api-key", KEYS[key])
            page.click("#key-form button[type=submit]")
        return page

    yield open_
    if request.node.stash.get(_FAILED, False):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(pages):
            try:
                page.screenshot(path=str(OUTPUT / f"{request.node.name}-{i}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a screenshot must not hide the failure
                pass
    for context in contexts:
        context.close()
