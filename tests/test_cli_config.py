"""``shopguide config``: the effective configuration, a bad variable named, the generated docs written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main
from service.ops.config_view import TABLE_BEGIN, TABLE_END, config_markdown, env_example

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No shopguide, OpenAI or Redis variable from the machine leaks into the command."""
    for name in list(os.environ):
        if name.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL", "PROMETHEUS_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_config_command_names_a_bad_variable() -> None:
    """As a process: the exit status is 2 and stderr names the variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL"))}
    done = subprocess.run(
        [sys.executable, "-m", "service", "config"], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**env, "SHOPGUIDE_RATE_LIMIT": "lots"},
    )
    assert done.returncode == 2
    assert "SHOPGUIDE_RATE_LIMIT" in done.stderr and done.stdout == ""


def test_config_json_and_lines(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("SHOPGUIDE_MODEL", "house-model")
    assert main(["config", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["SHOPGUIDE_MODEL"] == "house-model" and shown["REDIS_URL"] is None
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "SHOPGUIDE_MODEL=house-model" in lines and "REDIS_URL=" in lines and "SHOPGUIDE_LOG_PROMPTS=0" in lines


def test_markdown_and_env_example_print_the_generated_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--markdown"]) == 0
    assert capsys.readouterr().out == config_markdown()
    assert main(["config", "--env-example"]) == 0
    assert capsys.readouterr().out == env_example()


def test_write_docs_regenerates_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text(f"# intro\n{TABLE_BEGIN}\nstale\n{TABLE_END}\nafter\n")
    assert main(["config", "--write-docs", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / 'README.md'}", f"wrote {tmp_path / '.env.example'}"]
    text = (tmp_path / "README.md").read_text()
    assert "stale" not in text and text.startswith("# intro\n") and text.endswith(f"{TABLE_END}\nafter\n")
    assert config_markdown() in text
    assert (tmp_path / ".env.example").read_text() == env_example()


def test_env_example_defaults_load(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Uncommenting every line of .env.example as-is gives a valid configuration."""
    for line in env_example().splitlines():
        if line.startswith("# ") and "=" in line and line[2:].split("=", 1)[0].isupper():
            name, value = line[2:].split("=", 1)
            if value:
                clean_env.setenv(name, value)
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["SHOPGUIDE_RATE_LIMIT"] == "600/minute"


def test_config_shows_the_provider_chain_in_effect(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 10: it printed SHOPGUIDE_PROVIDERS= (unset) instead of the chain the service runs."""
    clean_env.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    assert main(["config"]) == 0
    assert "SHOPGUIDE_PROVIDERS=openai,local" in capsys.readouterr().out.splitlines()
    clean_env.delenv("OPENAI_API_KEY")
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["SHOPGUIDE_PROVIDERS"] == "local"
