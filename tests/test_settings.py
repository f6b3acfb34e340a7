"""service/settings.py: every variable is read, validated and reported by its name; the reusable types."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.settings import EXTRA_BANNED_LANG_ENV, LOCAL_PRIMARY_DEADLINE_S, Settings, env_name, load_settings

REPO = Path(__file__).resolve().parent.parent
A_FILE = str(Path(__file__).resolve())

# One invalid value per field. A field added to Settings without an entry here fails
# test_every_field_has_a_bad_value: every variable must reject something, by name.
BAD_VALUES = {
    "catalog": "/nonexistent/catalog.jsonl",
    "catalog_strict": "maybe",
    "data_dir": A_FILE,  # issue 14 (i14-deploy)
    "index_dir": A_FILE,
    "candidates": "0",
    "retrieval_memo": "-1",
    "retrieval": "vector",
    "dense_model": "/nonexistent/model",
    "dense_device": "tpu",
    "hybrid_alpha": "1.5",
    "hybrid_dense_floor": "cosine",
    "prompts_dir": "/nonexistent/prompts",
    "openai_api_key": "sk-has space",
    "openai_base_url": "ftp://example.com",
    "model": "gpt 4o",
    "recommend_model": '"gpt-4o"',
    "copy_model": "bad model",
    "temperature": "3",
    "max_tokens": "1",
    "timeout_s": "0",
    "deadline_s": "-1",
    "retries": "11",
    "retry_max_wait_s": "0",
    "response_format": "xml",
    "max_tokens_param": "tokens",
    "degraded_answers": "perhaps",
    "providers": "openai,gpt",
    "redis_url": "localhost:6379",
    "cache_ttl_s": "-1",
    "cache_fallback_ttl_s": "x",
    "cache_max_entries": "0",
    "cache_prefix": "has space",
    # issue 15: conversations
    "session_ttl_s": "0",
    "session_max": "0",
    "chat_history_turns": "-1",
    "chat_context_tokens": "x",
    "local_model": "/nonexistent/model.gguf",
    "local_device": "tpu",
    "local_dtype": "int4",
    "local_preload": "sometimes",
    "local_cache_dir": A_FILE,
    "local_batch_size": "0",
    "local_queue_size": "many",
    "local_batch_window_s": "-1",
    "local_max_new_tokens": "8",
    "local_max_string_chars": "1",
    "local_max_string_tokens": "-1",
    "local_grammar": "outlines",
    "local_threads": "0",
    "host": "not a host!",
    "port": "70000",
    "workers": "0",
    "threads": "0",
    "graceful_timeout_s": "0",
    "worker_port": "0",  # issue 14 (i14-deploy)
    "max_body_bytes": "100",
    # issue 13 (i13-faults)
    "request_read_timeout_s": "0",
    "redis_timeout_s": "-1",
    "redis_breaker_failures": "0",
    "redis_breaker_cooldown_s": "0",
    "invalid_answer_window": "2",
    "invalid_answer_ratio": "1.5",
    "log_level": "LOUD",
    "log_format": "xml",
    "log_prompts": "maybe",
    "api_keys": "web:nothex:recommend",
    "rate_limit": "lots",
    "rate_limit_scopes": '{"admin": "1/second"}',
    "rate_limit_strategy": "token-bucket",
    "rate_limit_storage": "disk",
    "cors_origins": "shop.example",
    "privacy_mask": "email,ssn",
    "user_id_salt": "short",
    "model_prices": '{"gpt-4o": [1]}',
    "metrics_dir": A_FILE,
    "extra_providers": '{"vllm": {"base_url": "not a url", "model": "m"}}',
    "breaker_failures": "0",
    "breaker_cooldown_s": "0",
    "breaker_max_cooldown_s": "-5",
    "local_reserve_s": "-1",
    "copy_compliance": "strict",
    "local_candidates": "0",
    "local_max_picks": "0",
    "local_temperature": "-1",
    "local_url": "ftp://models.internal",
    "local_host": "bad host!",
    "local_port": "0",
    "local_supervise": "maybe",
    "local_start_timeout_s": "0",
    "local_request_timeout_s": "-5",
    "local_prompt_style": "tiny",
    "local_quantize": "int4",
    "local_fast_forward": "sometimes",
    "local_prefix_cache": "perhaps",
    "local_omp_wait_policy": "spin",
    "copy_concurrency": "0",
    "copy_job_chunk_size": "0",
    "database_url": "mysql://shop@db/shop",
    "db_migrate": "maybe",
    "copy_jobs_per_key": "0",
    "copy_job_products_per_key": "0",
    "copy_extra_banned": '["ok", 3]',
    "copy_extra_banned_languages": '["ok", 3]',  # as SHOPGUIDE_COPY_EXTRA_BANNED_ZH (see VARIABLE)
    "datasets_dir": "/nonexistent/datasets",
    # issue 14 (i14-copy)
    "catalog_columns": "Product Name=titel",
    "latency_skip": "maybe",
    "latency_probe_s": "-1",
    "publishable_keys": "web:nothex:https://shop.example",
    "publishable_rate_limit": "lots",
    "publishable_ip_rate_limit": "lots",
    "trusted_proxies": "-1",
    # personalization model (issue 12, i12-model)
    "personalize_log": "/nonexistent/interactions.jsonl",
    "personalize_rebuild_events": "-1",
    "personalize_rebuild_min_s": "0",
    # issue 12: shopper events and personalization
    "events_stream_max_len": "10",
    "events_stream_max_age_days": "-1",
    "events_history_max": "0",
    "events_history_ttl_days": "0",
    "events_dedup_max": "5",
    "events_max_body_bytes": "1000",
    "events_max_future_s": "-1",
    "impressions_max": "0",
    "personalize_pool": "0",
    "personalize_weight": "-1",
    "personalize_history": "0",
    "personalize_prompt_history": "99",
}
# The variable a field's bad value goes in, where it is not env_name(field) (a family of variables).
VARIABLE = {"copy_extra_banned_languages": "SHOPGUIDE_COPY_EXTRA_BANNED_ZH"}


def refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    """The ConfigError message start-up gives for these variables."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


def test_every_field_has_a_bad_value() -> None:
    assert set(BAD_VALUES) == set(Settings.model_fields)


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_a_bad_value_stops_start_up_naming_the_variable(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variable = VARIABLE.get(field, env_name(field))
    message = refused(monkeypatch, **{variable: BAD_VALUES[field]})
    assert variable in message
    if field in ("openai_api_key", "user_id_salt"):
        assert BAD_VALUES[field] not in message  # a secret is never echoed


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("SHOPGUIDE_API_KEYS", f"web:{'a' * 64}:recommend+copy, ops:{'B' * 64}:ops", "api_keys", ["web", "ops"]),
        ("SHOPGUIDE_PRIVACY_MASK", "none", "privacy_mask", frozenset()),
        ("SHOPGUIDE_PRIVACY_MASK", "phone, email", "privacy_mask", frozenset({"phone", "email"})),
        ("SHOPGUIDE_CORS_ORIGINS", "https://shop.example/, http://localhost:3000", "cors_origins",
         ("https://shop.example", "http://localhost:3000")),
        ("SHOPGUIDE_MODEL_PRICES", '{"my-model": [1, 2.5]}', "model_prices", {"my-model": (1.0, 2.5)}),
        ("SHOPGUIDE_RATE_LIMIT", "OFF", "rate_limit", "off"),
        ("SHOPGUIDE_RATE_LIMIT_SCOPES", '{"ops": "10/second;100/hour"}', "rate_limit_scopes",
         {"ops": "10/second;100/hour"}),
        ("OPENAI_BASE_URL", "  ", "openai_base_url", None),
    ],
)
def test_good_values_parse(variable: str, value: str, field: str, expected: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    got = getattr(load_settings(), field)
    if field == "api_keys":
        assert [k.name for k in got] == expected
        assert got[1].sha256 == "b" * 64 and got[0].scopes == {"recommend", "copy"}
    else:
        assert got == expected


def test_model_overrides_per_endpoint() -> None:
    s = load_settings(model="base-model", recommend_model="rec-model")
    assert s.model_for("recommend") == "rec-model" and s.model_for("copy") == "base-model"
    assert load_settings(model="base-model", copy_model="copy-model").model_for("copy") == "copy-model"


def test_deadline_default_follows_the_primary_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SHOPGUIDE_PROVIDERS", "SHOPGUIDE_DEADLINE_S"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().deadline_s == LOCAL_PRIMARY_DEADLINE_S  # local is the default chain
    assert load_settings(providers="openai,local", openai_base_url="http://127.0.0.1:9/v1").deadline_s == 20.0
    assert load_settings(deadline_s=5).deadline_s == 5.0
    monkeypatch.setenv("SHOPGUIDE_DEADLINE_S", "7")
    assert load_settings().deadline_s == 7.0  # an explicit value always wins


# -- blank is unset, URLs, paths ---------------------------------------------------------------------
UNSET_WHEN_BLANK = [
    name for name, info in Settings.model_fields.items()
    if info.default is None and name not in ("workers",)  # an int without a blank form
]


def test_optional_fields_are_the_blank_is_unset_ones() -> None:
    assert set(UNSET_WHEN_BLANK) >= {"catalog", "openai_api_key", "openai_base_url", "redis_url", "local_model",
                                     "local_threads", "providers", "user_id_salt", "metrics_dir", "datasets_dir",
                                     "recommend_model", "copy_model", "dense_model"}


@pytest.mark.parametrize("field", UNSET_WHEN_BLANK)
def test_a_blank_value_is_unset(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name(field), "   ")
    assert getattr(load_settings(), field) is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("openai_base_url", "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1"),
        ("openai_base_url", " https://gateway:pw@llm.example/openai/v1?api-version=2 ",
         "https://gateway:pw@llm.example/openai/v1?api-version=2"),
        ("openai_base_url", "https://LLM.example", "https://llm.example/"),  # pydantic's normal form
        ("redis_url", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis_url", "rediss://:secret@cache.example:6380/1", "rediss://:secret@cache.example:6380/1"),
        ("redis_url", "unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"),
    ],
)
def test_urls_are_checked_by_pydantic_url_types(field: str, value: str, expected: str) -> None:
    assert getattr(load_settings(**{field: value}), field) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("openai_base_url", "http://", "must be an http:// or https:// URL (Input should be a valid URL, empty host)"),
        ("openai_base_url", "https://llm.example:99999/v1", "invalid port number"),
        ("redis_url", "redis://", "must be a redis://, rediss:// or unix:// URL (no host)"),
        ("redis_url", "http://cache:6379", "URL scheme should be 'redis', 'rediss' or 'unix'"),
    ],
)
def test_bad_urls_say_why(field: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{env_name(field)}: .*") as caught:
        load_settings(**{field: value})
    assert message in str(caught.value)


def test_a_nested_problem_names_the_variable_and_where(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(
        monkeypatch,
        SHOPGUIDE_EXTRA_PROVIDERS='{"vllm": {"base_url": "ftp://x", "model": "m"}}',
        SHOPGUIDE_MODEL_PRICES='{"house": [1, -2]}',
    )
    assert "SHOPGUIDE_EXTRA_PROVIDERS (vllm.base_url): must be an http:// or https:// URL" in message
    assert "SHOPGUIDE_MODEL_PRICES (house.1): Input should be greater than or equal to 0" in message


def test_paths(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("")
    settings = load_settings(catalog=str(catalog), index_dir=str(tmp_path / "new" / "index"), datasets_dir=str(tmp_path))
    assert settings.catalog == catalog and settings.datasets_dir == tmp_path
    assert settings.index_dir == tmp_path / "new" / "index"  # may not exist yet: it is made on first use
    with pytest.raises(ConfigError, match="SHOPGUIDE_CATALOG: no such catalog file"):
        load_settings(catalog=str(tmp_path))  # a directory is not a catalog file
    with pytest.raises(ConfigError, match="SHOPGUIDE_PROMPTS_DIR: not a directory"):
        load_settings(prompts_dir=str(catalog))
    with pytest.raises(ConfigError, match="SHOPGUIDE_LOCAL_CACHE_DIR: exists and is not a directory"):
        load_settings(local_cache_dir=str(catalog))


# -- the extra banned terms of copy --------------------------------------------------------------------
def test_extra_banned_terms_come_from_the_variable_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED", "全网第一, best ever")
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_ZH", "顶级、最好\n秒杀")
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_EN_GB", '["jaw-dropping"]')
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_JA", "")
    settings = load_settings()
    assert settings.copy_extra_banned == ("全网第一", "best ever")
    assert settings.copy_extra_banned_languages == {"zh": ("顶级", "最好", "秒杀"), "en_gb": ("jaw-dropping",), "ja": ()}
    assert env_name("copy_extra_banned_languages") == EXTRA_BANNED_LANG_ENV == "SHOPGUIDE_COPY_EXTRA_BANNED_<LANG>"


def test_extra_banned_terms_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(
        monkeypatch,
        SHOPGUIDE_COPY_EXTRA_BANNED_EN='["fine"]',
        SHOPGUIDE_COPY_EXTRA_BANNED_ZH='["ok", 3]',
        **{"SHOPGUIDE_COPY_EXTRA_BANNED_Z9!": "x"},
    )
    assert "SHOPGUIDE_COPY_EXTRA_BANNED_ZH: not a JSON array of strings" in message
    assert "SHOPGUIDE_COPY_EXTRA_BANNED_Z9!: not a language tag" in message
    assert "SHOPGUIDE_COPY_EXTRA_BANNED_EN" not in message


def test_extra_banned_terms_can_be_given_directly() -> None:
    settings = load_settings(copy_extra_banned="a,b", copy_extra_banned_languages={"ZH": "c"})
    assert settings.copy_extra_banned == ("a", "b") and settings.copy_extra_banned_languages == {"zh": ("c",)}


# -- every option lives in Settings ----------------------------------------------------------------------
# Reading the environment elsewhere hides an option from /v1/ops/config, `shopguide config` and the variable
# table. The one exception: prometheus_client's multi-process mode is switched on through its own
# environment variable, process-wide (service/ops/metrics.py; the option itself is SHOPGUIDE's metrics_dir).
ENV_ALLOWED = {"service/settings.py", "service/ops/metrics.py"}


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & {"environ", "getenv"}:
            lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_settings_reads_the_environment() -> None:
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / "service").rglob("*.py"))
        if str(path.relative_to(REPO)) not in ENV_ALLOWED and (lines := _environment_reads(path))
    }
    assert offenders == {}, "move these options into service/settings.py (Settings)"


def test_the_check_finds_an_environment_read(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\nx = os.environ.get('A')\ny = os.getenv('B')\n")
    assert _environment_reads(probe) == [2, 3, 4]


# -- issue 14 item 10: settings papercuts ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["debug", "Debug", " DEBUG "])
def test_log_level_in_any_case(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPGUIDE_LOG_LEVEL", value)
    assert load_settings().log_level == "DEBUG"


def test_an_unknown_variable_is_warned_about_naming_the_closest(monkeypatch, caplog) -> None:
    from service.settings import unknown_variables

    assert unknown_variables({"SHOPGUIDE_DEADLINE": "5", "SHOPGUIDE_MODEL": "m", "SHOPGUIDE_COPY_EXTRA_BANNED_FR": "x",
                              "SHOPGUIDE_TEST_REDIS_URL": "redis://x", "SHOPGUIDE_ZZZZZZZZ": "1", "OTHER": "1"}) == {
        "SHOPGUIDE_DEADLINE": "SHOPGUIDE_DEADLINE_S", "SHOPGUIDE_ZZZZZZZZ": None,
    }
    monkeypatch.setenv("SHOPGUIDE_PROVIDER", "openai")  # a typo of SHOPGUIDE_PROVIDERS
    with caplog.at_level("WARNING", logger="service.settings"):
        load_settings()
    assert "ignoring unknown variable SHOPGUIDE_PROVIDER; did you mean SHOPGUIDE_PROVIDERS?" in caplog.text


@pytest.mark.parametrize(
    "value",
    ['{"vllm": {"base_url": "http://vllm:8000/v1"', '{"vllm": {"base_url": "http://vllm:8000/v1", "model": "m", "x": 1}}',
     '["vllm"]'],
)
def test_bad_extra_providers_name_the_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(monkeypatch, SHOPGUIDE_EXTRA_PROVIDERS=value)
    assert message.startswith("invalid configuration: SHOPGUIDE_EXTRA_PROVIDERS") and "extra_providers" not in message


def test_extra_providers_still_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPGUIDE_EXTRA_PROVIDERS", '{"vllm": {"base_url": "http://vllm:8000/v1", "model": "Qwen/Q-7B"}}')
    monkeypatch.setenv("SHOPGUIDE_PROVIDERS", "vllm")
    assert load_settings().extra_providers["vllm"].model == "Qwen/Q-7B"


def test_publishable_keys_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPGUIDE_PUBLISHABLE_KEYS", f"shop:{'a' * 64}:https://shop.example/|https://www.shop.example")
    settings = load_settings()
    assert settings.publishable_keys[0].origins == ("https://shop.example", "https://www.shop.example")
    assert settings.auth_mode == "keys"
    assert "list the origins" in refused(monkeypatch, SHOPGUIDE_PUBLISHABLE_KEYS=f"shop:{'a' * 64}:")


def test_event_writes_have_their_own_default_rate_limit() -> None:  # issue 12: trackers post batches continuously
    assert load_settings().rate_limit_for("events:write") == "6000/minute"
    assert load_settings().rate_limit_for("recommend") == "600/minute"
    assert load_settings(rate_limit="10/second").rate_limit_for("events:write") == "10/second"
    assert load_settings(rate_limit_scopes={"events:write": "1/second"}).rate_limit_for("events:write") == "1/second"
