"""The OpenAI-compatible provider streaming from the local model server (``shopguide local serve``, the real
packaged SmolLM2-135M): how the local model streams tokens into /v1/chat and /v1/recommend (issue 15)."""

from __future__ import annotations

import json
import time

import pytest

from service.output.schema import RECOMMEND_SCHEMA_NAME, recommend_grammar_schema
from service.provider.base import ChatRequest
from service.provider.openai_compat import OpenAIProvider
from tests.test_local_server import server  # noqa: F401 - the module's model server fixture

pytestmark = pytest.mark.slow


class Sink:
    cancelled = False

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.first_at: float | None = None

    def begin(self, *, compact: bool = False) -> None:
        self.pieces = []

    def delta(self, text: str) -> None:
        self.first_at = self.first_at or time.monotonic()
        self.pieces.append(text)

    def on_cancel(self, closer) -> None:  # noqa: ANN001
        pass


def test_local_model_tokens_stream_through_the_provider(server: str) -> None:  # noqa: F811
    messages = (
        {"role": "system", "content": "Pick the best product for the shopper and explain why, as JSON."},
        {"role": "user", "content": 'Candidates: {"id": "SG-AUD-0008", "title": "静界 Q3 头戴式主动降噪耳机"} '
                                    '{"id": "SG-AUD-0010", "title": "声悦 Air2 半入耳蓝牙耳机"}. 想买个降噪耳机。'},
    )
    provider = OpenAIProvider(model="local", name="local-server", base_url=f"{server}/v1", timeout_s=600)
    sink = Sink()
    started = time.monotonic()
    completion = provider.complete(ChatRequest(
        messages=messages, schema_name=RECOMMEND_SCHEMA_NAME,
        schema=recommend_grammar_schema(["SG-AUD-0008", "SG-AUD-0010"], 1, reason_max_chars=120, summary_max_chars=60),
        deadline=time.monotonic() + 900, temperature=0, max_tokens=400, stream=sink,
    ))
    assert len(sink.pieces) > 10 and "".join(sink.pieces) == completion.text
    assert json.loads(completion.text)["items"]
    assert sink.first_at is not None and sink.first_at - started < completion.latency_ms / 1000 - 0.2
    assert completion.tokens_out >= len(sink.pieces)
