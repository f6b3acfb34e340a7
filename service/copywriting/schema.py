"""The copy contract: what the model writes per variant, the output schema, and the check report.

:func:`copy_output_schema` builds the JSON schema sent with the request. Without
limits it is OpenAI strict-mode compatible (every object closed, every property
required, only ``minItems``/``maxItems`` as extra keywords). With limits it also
carries ``maxLength`` on every string, which local constrained decoding
(xgrammar) enforces in characters, the same unit :mod:`service.copywriting.channels`
counts in; pass ``string_lengths=False`` to keep only the item counts for an
upstream that refuses ``maxLength``. With ``count="width"`` limits, ``maxLength``
is only an upper bound (a CJK character is one there, two in the width count);
the length check stays the judge.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from service.copywriting.channels import ChannelLimits


class CopyVariant(BaseModel):
    """One piece of marketing copy, as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    headline: str = Field(description="Headline, subject line or ad headline.")
    body: str = Field(description="Main text.")
    bullets: list[str] = Field(description="Short selling points.")
    cta: str = Field(description="Call to action.")

    def text(self) -> str:
        """Every field joined by newlines: what the checks scan."""
        return "\n".join([self.headline, self.body, *self.bullets, self.cta])


class CopyOutput(BaseModel):
    """The model's whole answer for one product."""

    model_config = ConfigDict(extra="forbid")

    variants: list[CopyVariant]


class CopyChecks(BaseModel):
    """What the checks found in one variant (or, aggregated, in all of them).

    ``banned_words_ok`` covers the request's own banned words only; compliance
    hits (against the lists of every script the text is written in), unsupported
    claims, length and language problems have their own fields; ``duplicate_of``
    marks a near-copy of an earlier variant. The property ``ok`` is true when none
    of them found anything (missing keywords do not fail).
    """

    model_config = ConfigDict(extra="forbid")

    banned_words_ok: bool = True
    banned_hits: list[str] = Field(default_factory=list)
    compliance_hits: list[str] = Field(default_factory=list)
    keywords_covered: list[str] = Field(default_factory=list)
    keywords_missing: list[str] = Field(default_factory=list)
    unsupported_claims: list[str] = Field(default_factory=list)
    length_ok: bool = True
    length_problems: list[str] = Field(default_factory=list)
    language_problems: list[str] = Field(
        default_factory=list, description="What is not written in the copy's language (a field, and the text)."
    )
    duplicate_of: int | None = Field(
        None, description="The 1-based number of an earlier variant this one nearly repeats (variants must differ)."
    )

    @property
    def ok(self) -> bool:
        """No banned word, compliance hit, unsupported claim, length or language problem, and no near-duplicate
        (not serialized)."""
        return (
            self.banned_words_ok
            and self.length_ok
            and not self.compliance_hits
            and not self.unsupported_claims
            and not self.language_problems
            and self.duplicate_of is None
        )


def copy_output_schema(
    variants: int,
    limits: ChannelLimits | None = None,
    *,
    string_lengths: bool = True,
) -> dict[str, Any]:
    """JSON schema of :class:`CopyOutput` for exactly ``variants`` variants.

    With ``limits``, bullets get ``minItems``/``maxItems`` and (unless
    ``string_lengths`` is false) every string gets ``maxLength``.

    :raises ValueError: if ``variants`` is below 1.
    """
    if variants < 1:
        raise ValueError("variants must be at least 1")
    schema = copy.deepcopy(CopyOutput.model_json_schema())
    outer = schema["properties"]["variants"]
    outer["minItems"] = variants
    outer["maxItems"] = variants
    if limits is not None:
        props = schema["$defs"]["CopyVariant"]["properties"]
        bullets = props["bullets"]
        bullets["minItems"] = limits.bullets_min
        bullets["maxItems"] = limits.bullets_max
        if string_lengths:
            props["headline"]["maxLength"] = limits.headline_max
            props["body"]["maxLength"] = limits.body_max
            props["cta"]["maxLength"] = limits.cta_max
            bullets["items"]["maxLength"] = limits.bullet_max
    return schema


def strict_schema_problems(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``schema`` breaks OpenAI strict-mode rules (closed objects, all properties required)."""
    problems: list[str] = []
    if schema.get("type") == "object":
        if schema.get("additionalProperties") is not False:
            problems.append(f"{path}: additionalProperties must be false")
        props = schema.get("properties", {})
        if sorted(schema.get("required", [])) != sorted(props):
            problems.append(f"{path}: every property must be required")
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            problems.extend(strict_schema_problems(sub, f"{path}.{key}.{name}"))
    if isinstance(schema.get("items"), dict):
        problems.extend(strict_schema_problems(schema["items"], f"{path}.items"))
    for i, sub in enumerate(schema.get("anyOf", [])):
        problems.extend(strict_schema_problems(sub, f"{path}.anyOf[{i}]"))
    return problems
