"""Settings from the environment: every variable validated by name, secrets masked, docs generated."""

from __future__ import annotations

import json
import subprocess
import sys
import hashlib
import random
import uuid
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.ops.config_view import (
    TABLE_BEGIN,
    TABLE_END,
    config_markdown,
    effective_config,
    env_example,
    env_lines,
    mask_secret,
    mask_url,
)
from service.settings import Settings, env_name, load_settings
from tests.support import small_shop

REPO = Path(__file__).resolve().parent.parent
A_FILE = str(Path(__file__).resolve())

# One invalid value per field. A field added to Settings without an entry here fails
# test_every_field_has_a_bad_value: every variable must reject something, by name.
BAD_VALUES = {
    "catalog": "/nonexistent/catalog.jsonl",
    "catalog_strict": "maybe",
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
    "max_body_bytes": "100",
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
    "copy_concurrency": "0",
    "copy_job_chunk_size": "0",
}


def test_every_field_has_a_bad_value() -> None:
    assert set(BAD_VALUES) == set(Settings.model_fields)


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_a_bad_value_stops_start_up_naming_the_variable(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variable = env_name(field)
    monkeypatch.setenv(variable, BAD_VALUES[field])
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
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


def test_mask_secret_shows_at_most_the_last_four() -> None:
    assert mask_secret("sk-proj-abcdefghijklmnop1234") == "sk-…1234"
    assert mask_secret("0123456789abcdefXYZW") == "…XYZW"
    assert mask_secret("short-one") == "****"
    assert mask_url("redis://default:hunter2-pass@redis:6379/0") == "redis://default:****@redis:6379/0"
    assert mask_url("https://x.example/openai?api-version=1&api-key=abcdef") == "https://x.example/openai?api-version=1&api-key=****"


def _random_secret(length: int) -> str:
    # Letters outside hex: a random hex secret's 5-character pieces collide now and then with the
    # catalog version, request ids and hashes in the output, which made this test flaky.
    return "".join(random.SystemRandom().choice("ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") for _ in range(length))


def _secret_settings() -> tuple[dict[str, str], list[str]]:
    api_key = "sk-" + _random_secret(48)
    redis_password = _random_secret(32)
    salt = _random_secret(32)
    client_hash = hashlib.sha256(_random_secret(16).encode()).hexdigest()
    env = {
        "OPENAI_API_KEY": api_key,
        "REDIS_URL": f"redis://default:{redis_password}@127.0.0.1:6379/0",
        "OPENAI_BASE_URL": f"https://user:{redis_password[::-1]}@llm.example/v1",
        "SHOPGUIDE_USER_ID_SALT": salt,
        "SHOPGUIDE_API_KEYS": f"web:{client_hash}:recommend",
    }
    return env, [api_key, redis_password, redis_password[::-1], salt, client_hash]


def _assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        # Not the secret, nor any 5-character piece of it (masks show 4 at most); a hex digest is checked
        # in 12-character pieces, since short hex runs occur by chance in ids and hashes.
        size = 12 if all(c in "0123456789abcdef" for c in secret) else 5
        assert not any(secret[i : i + size] in text for i in range(len(secret) - size + 1)), secret


def test_masked_output_never_contains_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    env, secrets = _secret_settings()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    _assert_no_secret("\n".join(env_lines(settings)), secrets)
    _assert_no_secret(json.dumps(effective_config(settings)), secrets)
    shown = effective_config(settings)
    assert shown["OPENAI_API_KEY"] == "sk-…" + env["OPENAI_API_KEY"][-4:]
    assert shown["REDIS_URL"] == "redis://default:****@127.0.0.1:6379/0"

    # The same through the HTTP endpoint (ops scope) ...
    app = small_shop.app(settings.model_copy(update={"api_keys": ()}))
    body = app.test_client().get("/v1/ops/config").get_data(as_text=True)
    _assert_no_secret(body, secrets)
    assert json.loads(body)["variables"]["SHOPGUIDE_MODEL"] == settings.model

    # ... and through the command line.
    done = subprocess.run(
        [sys.executable, "-m", "service", "config"], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**_clean_env(), **env},
    )
    assert done.returncode == 0, done.stderr
    assert "SHOPGUIDE_MODEL=gpt-4o-mini" in done.stdout
    _assert_no_secret(done.stdout + done.stderr, secrets)


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL"))}


def test_config_command_names_a_bad_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service", "config"], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**_clean_env(), "SHOPGUIDE_RATE_LIMIT": "lots"},
    )
    assert done.returncode == 2
    assert "SHOPGUIDE_RATE_LIMIT" in done.stderr


def test_markdown_table_has_every_variable() -> None:
    table = config_markdown()
    for name in Settings.model_fields:
        assert f"| `{env_name(name)}` |" in table
    assert "~/.cache/shopguide/index" in table  # machine-independent defaults
    assert str(Path.home()) not in table


def test_docs_configuration_table_is_current() -> None:
    """The README's variable table is exactly what `shopguide config --markdown` prints."""
    text = (REPO / "README.md").read_text()
    start, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    assert text[start:end].strip() == config_markdown().strip(), "regenerate: shopguide config --write-docs ."


def test_env_example_is_complete_and_current() -> None:
    text = (REPO / ".env.example").read_text()
    assert text == env_example(), "regenerate: shopguide config --write-docs ."
    for name in Settings.model_fields:
        assert f"# {env_name(name)}=" in text


def test_write_docs_regenerates_both_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(f"# intro\n{TABLE_BEGIN}\nstale\n{TABLE_END}\nafter\n")
    done = subprocess.run([sys.executable, "-m", "service", "config", "--write-docs", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "README.md").read_text()
    assert "stale" not in text and text.startswith("# intro\n") and text.endswith(f"{TABLE_END}\nafter\n")
    assert config_markdown() in text
    assert (tmp_path / ".env.example").read_text() == env_example()


def test_env_example_defaults_load() -> None:
    """Uncommenting every line of .env.example as-is gives a valid configuration."""
    values = {}
    for line in env_example().splitlines():
        if line.startswith("# ") and "=" in line and line[2:].split("=", 1)[0].isupper():
            name, value = line[2:].split("=", 1)
            if value:
                values[name] = value
    env = {**_clean_env(), **values}
    done = subprocess.run([sys.executable, "-m", "service", "config", "--json"], capture_output=True, text=True,
                          cwd=REPO, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["SHOPGUIDE_RATE_LIMIT"] == "600/minute"


def test_deadline_default_follows_the_primary_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.settings import LOCAL_PRIMARY_DEADLINE_S, load_settings

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SHOPGUIDE_PROVIDERS", "SHOPGUIDE_DEADLINE_S"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().deadline_s == LOCAL_PRIMARY_DEADLINE_S  # local is the default chain
    assert load_settings(providers="openai,local", openai_base_url="http://127.0.0.1:9/v1").deadline_s == 20.0
    assert load_settings(deadline_s=5).deadline_s == 5.0
    monkeypatch.setenv("SHOPGUIDE_DEADLINE_S", "7")
    assert load_settings().deadline_s == 7.0  # an explicit value always wins
