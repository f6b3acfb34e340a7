"""Load a causal LM and its tokenizer with transformers onto the chosen device and dtype."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import torch

from service.errors import ProviderUnavailable
from service.provider.local.model_files import PROVIDER, ModelFiles

Device = Literal["auto", "cuda", "cpu"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
Quantize = Literal["auto", "none", "int8"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    """A model ready for ``generate``: left-padding tokenizer, eval mode, on its device."""

    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers tokenizer with a chat template
    files: ModelFiles
    device: torch.device
    dtype: torch.dtype
    stop_token_ids: tuple[int, ...]
    pad_token_id: int
    vocab_size: int
    load_s: float
    quantize: Quantize = "none"  # what was applied ("auto" resolved)
    parameters: int = 0  # before any quantization

    @property
    def name(self) -> str:
        return self.files.name


def resolve_device(device: Device) -> torch.device:
    """``auto`` picks CUDA when present.

    :raises ProviderUnavailable: when ``cuda`` is asked for and there is none.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ProviderUnavailable("SHOPGUIDE_LOCAL_DEVICE=cuda but no CUDA device is available", provider=PROVIDER)
    return torch.device(device)


def resolve_dtype(dtype: DType, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on a GPU, fp32 on CPU (bf16 matmuls on CPU are slower when batched)."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[dtype]


def load_model(
    files: ModelFiles, *, device: Device = "auto", dtype: DType = "auto", quantize: Quantize = "none"
) -> LoadedModel:
    """Load ``files`` for generation; nothing is fetched from a hub.

    ``quantize="int8"`` (CPU only) swaps every linear layer for torch's dynamically quantized
    int8 one: weights stored in int8, activations quantized per batch (bench/local_model.py).
    ``"auto"`` is int8 for float32 on a CPU (where decoding is bound by reading the weights: a quarter
    of the bytes a token, 35 against 99 ms a token for the packaged model) and nothing otherwise.

    :raises ProviderUnavailable: when transformers cannot load the files, or int8 is asked for on a GPU.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    started = time.monotonic()
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(files.directory), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(files.directory), dtype=torch_dtype, local_files_only=True, attn_implementation="sdpa"
        ).to(torch_device)
    except Exception as exc:  # transformers raises OSError, ValueError, RuntimeError... all mean "cannot load"
        raise ProviderUnavailable(f"cannot load local model {files.directory}: {exc}", provider=PROVIDER) from exc
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    if quantize == "auto":
        quantize = "int8" if torch_device.type == "cpu" and torch_dtype == torch.float32 else "none"
    if quantize == "int8":
        model = _quantize_int8(model, torch_device, torch_dtype)
    if not getattr(tokenizer, "chat_template", None):
        raise ProviderUnavailable(f"local model {files.name} has no chat template", provider=PROVIDER)
    tokenizer.padding_side = "left"  # batched decoder-only generation continues from the right edge
    stop_ids = _stop_token_ids(model, tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        files=files,
        device=torch_device,
        dtype=torch_dtype,
        stop_token_ids=stop_ids,
        pad_token_id=int(tokenizer.pad_token_id),
        vocab_size=int(model.config.vocab_size),
        load_s=time.monotonic() - started,
        quantize=quantize,
        parameters=parameters,
    )


def _quantize_int8(model: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if device.type != "cpu" or dtype != torch.float32:
        raise ProviderUnavailable(
            "SHOPGUIDE_LOCAL_QUANTIZE=int8 is for float32 on CPU (a GPU runs bf16/fp16)", provider=PROVIDER
        )
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _stop_token_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    """End-of-turn tokens: the generation config's eos ids plus the tokenizer's."""
    ids: list[int] = []
    configured = model.generation_config.eos_token_id
    for value in configured if isinstance(configured, list) else [configured]:
        if value is not None:
            ids.append(int(value))
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    if not ids:
        raise ProviderUnavailable("local model defines no end-of-sequence token", provider=PROVIDER)
    return tuple(dict.fromkeys(ids))
