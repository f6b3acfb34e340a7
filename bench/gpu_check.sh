#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (issue 17 §3), under 8 minutes:
#   1. the GPU-marked tests (model on CUDA in bf16 with SDPA, a batch of valid recommendations);
#   2. bench/local_model.py --device cuda --concurrency 1,8,32: the same 6-candidate compact
#      recommendations through `shopguide local serve` on the GPU, 1, 8 and 32 requests at once.
# Needs the CUDA build of torch 2.13.0 and the project's wheels at hand (`make install` with a
# CUDA torch, or PIP_INDEX_URL pointing at a mirror). SHOPGUIDE_LOCAL_MODEL may name a bigger model
# directory (safetensors + tokenizer), e.g. /models/Qwen2.5-1.5B-Instruct.
#
# Reading the output: the pytest line must say "2 passed". Then one table row per concurrency:
#   tokens/s   generated tokens per second of all requests together (the GPU's throughput);
#   p50/p99 s  latency of one request, queueing included (what a shopper waits at that load);
#   valid      answers that are schema-valid JSON with ids from the request's candidates (must be all);
#   batches    how many generate calls served them (fewer than requests = batching worked).
# Throughput should grow from 1 to 32 while p50 grows far less than 32x; if tokens/s stops growing
# between 8 and 32, SHOPGUIDE_LOCAL_BATCH_SIZE beyond that buys nothing on this GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export SHOPGUIDE_LOCAL_DEVICE=cuda HF_HUB_OFFLINE=1
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device: this check needs an NVIDIA GPU and a CUDA build of torch")'
"$PY" -c 'import torch; print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)'
timeout 240 "$PY" -m pytest -q -p no:randomly -m gpu tests/test_local_gpu.py
timeout 300 "$PY" -m bench.local_model --device cuda --concurrency 1,8,32 --requests 32
