"""An in-process Provider that answers like a model following the recommend prompt, or fails as scripted.

Its picks come from :func:`tests.support.picks.pick_first_k`, the same stand-in the scripted HTTP
upstream uses, so answers depend on the candidates shopguide actually rendered into the prompt.
"""

from __future__ import annotations

import json
import time
from typing import Any

from service.errors import RetryableProviderError
from service.provider.base import ChatRequest, Completion
from tests.support.picks import pick_first_k


def picks_for(request: ChatRequest, model: str) -> str:
    """The model's answer to ``request``: the first k candidates of the prompt, explained."""
    body = {"model": model, "messages": list(request.messages)}
    return json.dumps(pick_first_k(body), ensure_ascii=False)


class ScriptedProvider:
    """Implements the Provider protocol: picks from the prompt's candidates, or fails ``failures`` times first."""

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
        model = request.model or self.model
        return Completion(picks_for(request, model), self.name, model, *self.tokens)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "fake", "model": self.model}
