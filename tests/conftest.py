"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_upstream import OpenAIUpstream


@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[OpenAIUpstream]:
    with OpenAIUpstream() as server:
        yield server


@pytest.fixture
def upstream(_upstream_server: OpenAIUpstream) -> Iterator[OpenAIUpstream]:
    """The scripted OpenAI-compatible upstream, reset (script, records, latency) for each test."""
    _upstream_server.reset()
    yield _upstream_server
    _upstream_server.reset()
