"""Render prompt templates from ``prompts/`` in a sandboxed Jinja environment.

Templates are trusted files; the values they render (shopper text, product
text) are not. Untrusted values go through the ``data`` filter, which encodes
them as JSON with ``<``, ``>`` and ``&`` escaped, so nothing inside a value can
close or forge the ``<...>`` delimiters of a data block.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from service.errors import ConfigError

ROLES = ("system", "user")


def data_json(value: Any) -> str:
    """JSON for a data block: compact, readable (CJK as is, not \\u-escaped) but delimiter-safe.

    orjson: the stdlib encoder cost 0.28 ms of a recommendation's CPU (about 20 values a prompt);
    compact separators also spare the model tokens.
    """
    text = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@dataclass(frozen=True)
class RenderedPrompt:
    messages: tuple[dict[str, str], ...]
    version: str  # content hash of the task's templates


class PromptRenderer:
    """Renders ``<task>/system.j2`` and ``<task>/user.j2`` into chat messages.

    A task's version is the hash of every template file under its folder plus the
    shared ``_partials`` folder, computed once at construction.
    """

    def __init__(self, prompts_dir: Path) -> None:
        if not prompts_dir.is_dir():
            raise ConfigError(f"SHOPGUIDE_PROMPTS_DIR: not a directory: {prompts_dir}")
        self._dir = prompts_dir
        self._env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(prompts_dir)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["data"] = data_json
        self._versions: dict[str, str] = {}
        self._templates: dict[tuple[str, str], Any] = {}
        for task_dir in sorted(p for p in prompts_dir.iterdir() if p.is_dir() and not p.name.startswith("_")):
            self._versions[task_dir.name] = self._hash(task_dir)
            for role in ROLES:
                try:
                    self._templates[(task_dir.name, role)] = self._env.get_template(f"{task_dir.name}/{role}.j2")
                except TemplateNotFound:
                    continue

    def _hash(self, task_dir: Path) -> str:
        digest = hashlib.sha256()
        shared = self._dir / "_partials"
        files = sorted(task_dir.rglob("*.j2")) + (sorted(shared.rglob("*.j2")) if shared.is_dir() else [])
        for path in files:
            digest.update(str(path.relative_to(self._dir)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self._versions)

    def version(self, task: str) -> str:
        try:
            return self._versions[task]
        except KeyError:
            raise ConfigError(f"no prompt templates for task {task!r} in {self._dir}") from None

    def render_message(self, task: str, name: str, **context: Any) -> str:
        """Render one extra template of a task (``<task>/<name>.j2``), e.g. the re-ask message."""
        self.version(task)
        try:
            template = self._env.get_template(f"{task}/{name}.j2")
        except TemplateNotFound:
            raise ConfigError(f"missing prompt template {task}/{name}.j2 in {self._dir}") from None
        return template.render(**context).strip()

    def render(self, task: str, **context: Any) -> RenderedPrompt:
        """Render the task's messages; a variable the template uses but ``context`` lacks is an error."""
        version = self.version(task)
        messages = []
        for role in ROLES:
            template = self._templates.get((task, role))
            if template is not None:
                messages.append({"role": role, "content": template.render(**context).strip()})
        return RenderedPrompt(messages=tuple(messages), version=version)
