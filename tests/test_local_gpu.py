"""The local model on an NVIDIA GPU (issue 17 §3): run by bench/gpu_check.sh on a machine that has one.

Marked ``gpu``: on a machine without CUDA they are deselected by ``-m "not gpu"`` in CI and
fail loudly (not skip) when asked for explicitly without a GPU, so a GPU check can never
pass by skipping.
"""

from __future__ import annotations

import json
import time

import jsonschema
import pytest
import torch

from service.provider.local import LocalProvider
from tests.support.recommend_cases import build_cases

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


@pytest.fixture(scope="module")
def provider():
    assert torch.cuda.is_available(), "the GPU tests need CUDA (run them through bench/gpu_check.sh on a GPU machine)"
    provider = LocalProvider(None, device="cuda", max_batch_size=32, max_queue=64, batch_window_s=0.2)
    provider.warm_up()
    yield provider
    provider.close()


def test_the_model_loads_on_the_gpu_in_bf16_with_sdpa(provider: LocalProvider) -> None:
    loaded = provider.loaded
    assert loaded is not None and loaded.device.type == "cuda" and loaded.dtype == torch.bfloat16
    assert loaded.model.config._attn_implementation == "sdpa"
    assert next(loaded.model.parameters()).device.type == "cuda"


def test_a_batch_of_recommendations_is_valid_on_the_gpu(provider: LocalProvider) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cases = build_cases()
    started = time.monotonic()
    with ThreadPoolExecutor(len(cases)) as pool:
        completions = list(pool.map(lambda b: provider.complete(b.request(deadline_s=120)), cases))
    assert time.monotonic() - started < 60
    for built, completion in zip(cases, completions, strict=True):
        data = json.loads(completion.text)
        jsonschema.validate(data, built.grammar_schema)
        assert {item["id"] for item in data["items"]} <= set(built.candidate_ids)
    assert provider.describe()["batches"] < len(cases)  # they ran batched
