"""An OpenAI-compatible chat-completions provider on the ``openai`` SDK.

Works with any server that speaks the protocol (OpenAI, Azure OpenAI, vLLM,
Ollama, llama.cpp server, DeepSeek, Qwen...). The SDK's own retries are off
(``max_retries=0``): tenacity owns the schedule, so attempts do not multiply.
SDK exceptions are translated here, at the boundary, keeping the upstream's
status code and request id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx2  # the openai SDK's HTTP client package
import openai
import orjson
from openai.types.chat import ChatCompletionChunk
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState

from service.errors import (
    InvalidOutput,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RetryableProviderError,
    UpstreamTimeout,
)
from service.output.schema import without_unique_items
from service.provider.base import (
    ChatRequest,
    Completion,
    PromptStyle,
    StreamCancelled,
    StreamSink,
)
from service.provider.retry import RetryPolicy, parse_retry_after

ResponseFormat = Literal["json_schema", "json_object", "text"]


class _Message(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    message: _Message


class _Usage(BaseModel):
    prompt_tokens: int | None = None  # some servers send null
    completion_tokens: int | None = None


class ChatAnswer(BaseModel):
    """The part of a ``chat.completion`` body that shopguide reads, validated; other fields are ignored.

    Lenient where compatible servers differ (vLLM, Ollama and llama.cpp omit or add fields), strict
    where it matters: ``choices[].message`` must be there.
    """

    model: str | None = None
    choices: list[_Choice]
    usage: _Usage | None = None


def translate(exc: openai.OpenAIError, provider: str) -> ProviderError:
    """Map an SDK exception onto shopguide's error tree."""
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeout("upstream timed out", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return RetryableProviderError(f"cannot reach upstream: {exc}", provider=provider)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers)
        common: dict[str, Any] = {"provider": provider, "status_code": status, "request_id": exc.request_id}
        if status == 429:
            return RateLimited(f"upstream rate limit (429): {exc.message}", retry_after=retry_after, **common)
        if status == 408:
            return UpstreamTimeout(f"upstream request timeout (408): {exc.message}", **common)
        if status >= 500:
            err = RetryableProviderError(f"upstream error ({status}): {exc.message}", **common)
            err.retry_after = retry_after
            return err
        return ProviderError(f"upstream refused the request ({status}): {exc.message}", **common)
    if isinstance(exc, openai.APIResponseValidationError):
        return InvalidOutput(f"upstream response is not a chat completion: {exc}", provider=provider)
    return ProviderError(f"upstream error: {exc}", provider=provider)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


class OpenAIProvider:
    """Structured output from an OpenAI-compatible server, retried within the request's deadline."""

    # The tightened grammar schema's uniqueItems (distinct picks) is shopguide's model server's to enforce;
    # OpenAI's strict mode and vLLM's guidance backend refuse the keyword.
    sends_unique_items = False

    def __init__(
        self,
        *,
        model: str,
        name: str = "openai",
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        response_format: ResponseFormat = "json_schema",
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
        http_client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, BaseException], None] | None = None,
        endpoint_models: Mapping[str, str] | None = None,
        prompt_style: PromptStyle = "full",
        timeout_header: str | None = None,
    ) -> None:
        self.name = name
        # compact: a small model behind this server (issue 17): it is sent each request's compact form, and
        # that form's tightened grammar schema (candidate ids as an enum) as its response_format schema.
        self.prompt_style: PromptStyle = prompt_style
        self._timeout_header = timeout_header  # tells the server how long this call will wait (it drops it after)
        self.model = model
        self._endpoint_models = dict(endpoint_models or {})  # e.g. a faster model for recommendations
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        self._response_format = response_format
        self._max_tokens_param = max_tokens_param
        self._sleep = sleep
        self._on_retry = on_retry
        # Self-hosted servers (vLLM, Ollama) often need no key, but the SDK insists on one.
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,
            timeout=timeout_s,
            http_client=http_client,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "openai",
            "model": self.model,
            "base_url": str(self._client.base_url),
            "response_format": self._response_format,
            "timeout_s": self._timeout_s,
            "prompt_style": self.prompt_style,
        }

    def _response_format_param(self, request: ChatRequest) -> dict[str, Any] | None:
        if self._response_format == "json_schema":
            schema = request.schema
            if self.prompt_style == "compact" and request.grammar_schema is not None:
                schema = request.grammar_schema if self.sends_unique_items else without_unique_items(request.grammar_schema)
            return {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema, "strict": True},
            }
        if self._response_format == "json_object":
            return {"type": "json_object"}
        return None

    def _before_sleep(self, state: RetryCallState) -> None:
        if self._on_retry and state.outcome is not None:
            self._on_retry(self.name, state.outcome.exception())

    def complete(self, request: ChatRequest) -> Completion:
        """One structured completion, retried on transient failures until ``request.deadline``.

        :raises ProviderError: the last failure once retries or the deadline are spent.
        """
        style: PromptStyle = "full"
        if self.prompt_style == "compact" and request.compact is not None:
            request, style = request.for_small_model(), "compact"
        model = request.model or self._endpoint_models.get(request.endpoint) or self.model
        params: dict[str, Any] = {
            "model": model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            self._max_tokens_param: request.max_tokens,
        }
        response_format = self._response_format_param(request)
        if response_format is not None:
            params["response_format"] = response_format

        if request.stream is not None:
            return self._streamed(request, params, model, request.stream, style)
        body = orjson.dumps(params)
        started = time.monotonic()
        attempts = 0
        for attempt in self._retry.retrying(request.deadline, sleep=self._sleep, before_sleep=self._before_sleep):
            with attempt:
                attempts += 1
                timeout = min(self._timeout_s, request.remaining())
                if timeout <= 0:
                    raise ProviderUnavailable("deadline passed before the upstream call", provider=self.name)
                try:
                    # The SDK's low-level post: what chat.completions.create sends, minus its recursive
                    # transform of ~40 mostly unset parameters, with the body already encoded (orjson)
                    # and the answer handed back raw, then validated below against the few fields read
                    # here instead of being built into the SDK's full ChatCompletion model: 0.6 ms less
                    # CPU a call (bench/request_cpu.py). Errors, retries off and auth are the SDK's.
                    options: dict[str, Any] = {"timeout": timeout}
                    if self._timeout_header:
                        options["headers"] = {self._timeout_header: f"{timeout:.3f}"}
                    raw = self._client.post("/chat/completions", content=body, cast_to=httpx2.Response, options=options)
                    payload = raw.read()
                except openai.OpenAIError as exc:
                    raise translate(exc, self.name) from exc
                except httpx2.HTTPError as exc:  # the body broke off after the status line
                    raise RetryableProviderError(f"cannot read the upstream's answer: {exc}", provider=self.name) from exc
                try:
                    response = ChatAnswer.model_validate_json(payload)
                except ValidationError as exc:
                    raise RetryableProviderError(
                        f"upstream sent a body that is not a chat completion: {_first_error(exc)}", provider=self.name
                    ) from exc
        if not response.choices:
            raise InvalidOutput("upstream returned no choices", provider=self.name)
        message = response.choices[0].message
        text = message.content
        if not text:
            refusal = message.refusal
            raise InvalidOutput(f"upstream returned no content{f' (refusal: {refusal})' if refusal else ''}", provider=self.name)
        usage = response.usage
        return Completion(
            text=text,
            provider=self.name,
            model=response.model or model,
            tokens_in=(usage.prompt_tokens or 0) if usage else 0,
            tokens_out=(usage.completion_tokens or 0) if usage else 0,
            latency_ms=(time.monotonic() - started) * 1000,
            attempts=attempts,
            upstream_request_id=raw.headers.get("x-request-id"),
            prompt_style=style,
        )

    def _streamed(
        self, request: ChatRequest, params: dict[str, Any], model: str, sink: StreamSink, style: PromptStyle = "full"
    ) -> Completion:
        """The answer streamed (``stream: true``): each content delta goes to ``sink`` as it arrives.

        A stream that breaks off (connection cut, a frame that is not JSON, a mid-stream error frame, an end
        without a finish reason) fails the attempt like a 5xx: it is retried, and the sink is told a new
        attempt begins. A consumer that leaves closes the upstream response at once (:meth:`StreamSink.on_cancel`).
        """
        body = orjson.dumps({**params, "stream": True, "stream_options": {"include_usage": True}})
        started = time.monotonic()
        attempts = 0
        for attempt in self._retry.retrying(request.deadline, sleep=self._sleep, before_sleep=self._before_sleep):
            with attempt:
                attempts += 1
                if sink.cancelled:
                    raise StreamCancelled()
                timeout = min(self._timeout_s, request.remaining())
                if timeout <= 0:
                    raise ProviderUnavailable("deadline passed before the upstream call", provider=self.name)
                sink.begin(compact=style == "compact")
                result = self._stream_once(request, body, timeout, model, sink)
        text, answered_model, usage, upstream_id = result
        if not text:
            raise InvalidOutput("upstream streamed no content", provider=self.name)
        return Completion(
            text=text,
            provider=self.name,
            model=answered_model or model,
            tokens_in=(usage.prompt_tokens or 0) if usage else 0,
            tokens_out=(usage.completion_tokens or 0) if usage else 0,
            latency_ms=(time.monotonic() - started) * 1000,
            attempts=attempts,
            upstream_request_id=upstream_id,
            prompt_style=style,
        )

    def _stream_once(
        self, request: ChatRequest, body: bytes, timeout: float, model: str, sink: StreamSink
    ) -> tuple[str, str | None, Any, str | None]:
        """One streamed attempt: (text, model, usage, upstream request id)."""
        pieces: list[str] = []
        finished = False
        answered_model: str | None = None
        usage: Any = None
        try:
            stream = self._client.post(
                "/chat/completions",
                content=body,
                cast_to=ChatCompletionChunk,
                stream=True,
                stream_cls=openai.Stream[ChatCompletionChunk],
                options={"timeout": timeout, **({"headers": {self._timeout_header: f"{timeout:.3f}"}} if self._timeout_header else {})},
            )
        except openai.OpenAIError as exc:
            raise translate(exc, self.name) from exc
        sink.on_cancel(stream.close)
        try:
            for chunk in stream:
                if sink.cancelled:
                    raise StreamCancelled()
                answered_model = answered_model or chunk.model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices or ():
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        pieces.append(piece)
                        sink.delta(piece)
                    if choice.finish_reason:
                        finished = True
                if request.remaining() <= 0:
                    raise UpstreamTimeout("deadline passed while the answer was streaming", provider=self.name)
        except StreamCancelled:
            raise
        except openai.APIStatusError as exc:
            raise translate(exc, self.name) from exc
        except openai.APIError as exc:  # an error frame mid-stream, or the connection broke off
            if sink.cancelled:
                raise StreamCancelled() from exc
            if isinstance(exc, openai.APITimeoutError):
                raise UpstreamTimeout("upstream stream timed out", provider=self.name) from exc
            raise RetryableProviderError(f"upstream stream broke off: {exc}", provider=self.name) from exc
        except (ValueError, httpx2.HTTPError) as exc:  # a frame that is not JSON; a transport error
            if sink.cancelled:
                raise StreamCancelled() from exc
            raise RetryableProviderError(f"upstream sent a broken stream: {exc}", provider=self.name) from exc
        finally:
            sink.on_cancel(None)
            stream.close()
        if sink.cancelled:
            raise StreamCancelled()
        if not finished:
            raise RetryableProviderError("upstream stream ended before the answer was finished", provider=self.name)
        return "".join(pieces), answered_model, usage, stream.response.headers.get("x-request-id")

    def close(self) -> None:
        self._client.close()
