"""An OpenAI-compatible chat-completions provider on the ``openai`` SDK.

Works with any server that speaks the protocol (OpenAI, Azure OpenAI, vLLM,
Ollama, llama.cpp server, DeepSeek, Qwen...). The SDK's own retries are off
(``max_retries=0``): tenacity owns the schedule, so attempts do not multiply.
SDK exceptions are translated here, at the boundary, keeping the upstream's
status code and request id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import openai
from openai.types.chat import ChatCompletion
from tenacity import RetryCallState

from service.errors import (
    InvalidOutput,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RetryableProviderError,
    UpstreamTimeout,
)
from service.provider.base import ChatRequest, Completion
from service.provider.retry import RetryPolicy, parse_retry_after

ResponseFormat = Literal["json_schema", "json_object", "text"]


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


class OpenAIProvider:
    """Structured output from an OpenAI-compatible server, retried within the request's deadline."""

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
    ) -> None:
        self.name = name
        self.model = model
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
        }

    def _response_format_param(self, request: ChatRequest) -> dict[str, Any] | None:
        if self._response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
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
        model = request.model or self.model
        params: dict[str, Any] = {
            "model": model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            self._max_tokens_param: request.max_tokens,
        }
        response_format = self._response_format_param(request)
        if response_format is not None:
            params["response_format"] = response_format

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
                    # transform of ~40 mostly unset parameters (0.6 ms of CPU a call, measured in
                    # bench/service.py's profile; our params are plain JSON already). Errors, retries off,
                    # auth and response parsing are the SDK's as before.
                    response = self._client.post(
                        "/chat/completions", body=params, cast_to=ChatCompletion, options={"timeout": timeout}
                    )
                except openai.OpenAIError as exc:
                    raise translate(exc, self.name) from exc
                except ValueError as exc:  # the SDK lets a non-JSON body escape as json.JSONDecodeError
                    raise RetryableProviderError(f"upstream sent a malformed body: {exc}", provider=self.name) from exc
                if not isinstance(response, ChatCompletion):  # a text/plain body comes back as str
                    raise RetryableProviderError("upstream sent a non-JSON body", provider=self.name)
        if not response.choices:
            raise InvalidOutput("upstream returned no choices", provider=self.name)
        message = response.choices[0].message
        text = message.content
        if not text:
            refusal = getattr(message, "refusal", None)
            raise InvalidOutput(f"upstream returned no content{f' (refusal: {refusal})' if refusal else ''}", provider=self.name)
        usage = response.usage
        return Completion(
            text=text,
            provider=self.name,
            model=response.model or model,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            latency_ms=(time.monotonic() - started) * 1000,
            attempts=attempts,
            upstream_request_id=getattr(response, "_request_id", None),
        )

    def close(self) -> None:
        self._client.close()
