"""service/ops/config_view.py: the effective configuration with secrets masked (function, /v1/ops/config, CLI),
the README's variable table and .env.example generated from Settings."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from service.cli import main
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


def test_masked_output_never_contains_a_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
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
    app = small_shop.app(settings.model_copy(update={"api_keys": (), "local_preload": False}))
    body = app.test_client().get("/v1/ops/config").get_data(as_text=True)
    _assert_no_secret(body, secrets)
    assert json.loads(body)["variables"]["SHOPGUIDE_MODEL"] == settings.model

    # ... and through the command line.
    capsys.readouterr()
    assert main(["config"]) == 0
    out = capsys.readouterr()
    assert "SHOPGUIDE_MODEL=gpt-4o-mini" in out.out
    _assert_no_secret(out.out + out.err, secrets)


def test_extra_banned_terms_show_in_ops_config_and_the_config_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: these were read from os.environ by the copy factory, invisible to ops."""
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED", "全网第一")
    monkeypatch.setenv("SHOPGUIDE_COPY_EXTRA_BANNED_ZH", "顶级,秒杀")
    settings = load_settings()
    shown = effective_config(settings)
    assert shown["SHOPGUIDE_COPY_EXTRA_BANNED"] == ["全网第一"]
    assert shown["SHOPGUIDE_COPY_EXTRA_BANNED_<LANG>"] == {"zh": ["顶级", "秒杀"]}
    app = small_shop.app(settings.model_copy(update={"local_preload": False}))  # no model loading in the background
    variables = app.test_client().get("/v1/ops/config").json["variables"]
    assert variables["SHOPGUIDE_COPY_EXTRA_BANNED"] == ["全网第一"]
    assert variables["SHOPGUIDE_COPY_EXTRA_BANNED_<LANG>"] == {"zh": ["顶级", "秒杀"]}
    capsys.readouterr()
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "SHOPGUIDE_COPY_EXTRA_BANNED=全网第一" in lines
    assert 'SHOPGUIDE_COPY_EXTRA_BANNED_<LANG>={"zh": ["顶级", "秒杀"]}' in lines


def test_markdown_table_has_every_variable() -> None:
    table = config_markdown()
    for name in Settings.model_fields:
        assert f"| `{env_name(name)}` |" in table
    assert "`~/.cache/shopguide`" in table  # machine-independent defaults (SHOPGUIDE_DATA_DIR, issue 14)
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
