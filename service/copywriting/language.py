"""Whether a variant is written in the language that was asked for: a variant in the wrong language is a finding.

The check reads scripts, not words (:mod:`service.text.script`), so it needs no model and no dictionary:

- **a Latin-script language** (en, de, fr, ...): a run of Chinese, Japanese or Korean characters is a finding
  (``"…全网最低价，品质最佳！"`` in English copy), unless the product's own data holds it (its title, brand,
  tags, category and attribute values: a name is a name in every language).
- **zh / ja / ko**: a headline, body or call to action written in Latin letters only, with two words or more
  (``"Shop now"`` as the call to action of Chinese copy), and a run of three Latin words or more inside any
  field are findings; single Latin words, model names and spec bullets (``USB-C``, ``GORE-TEX``,
  ``Wi-Fi 6E / Bluetooth 5.3``) are not. Kana or hangul in Chinese copy,
  hangul in Japanese and kana in Korean copy are findings; Japanese copy needs some kana (Han alone is Chinese).

Words from the product's own data are removed before the check, case-insensitively, so a product named in
English (``Anker PowerCore``) is fine in Chinese copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from service.catalog.product import Product
from service.copywriting.schema import CopyVariant
from service.text.phrases import normalize
from service.text.script import HAN, HAN_CHARS, HANGUL, HANGUL_CHARS, KANA, KANA_CHARS, LATIN_WORD, script_runs

LANGUAGE_NAMES = {"zh": "Chinese", "ja": "Japanese", "ko": "Korean", "en": "English"}
CJK = ("zh", "ja", "ko")
MIN_LATIN_WORDS_FIELD = 2  # a field of CJK copy written only in Latin letters, from this many words
MIN_LATIN_WORDS_RUN = 3  # a Latin phrase inside CJK copy, from this many words in a row
_LATIN_RUN = re.compile(r"[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'’\-]*(?:[ ,;:]+[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'’\-]*)+")
_SNIPPET = 40


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(language, language)


def product_words(product: Product) -> list[str]:
    """The product's own names, normalized and lower-cased, longest first: what copy may quote in any language."""
    words: list[str] = [product.title, product.brand, *product.tags, *product.category.split("/")]

    def walk(value: object) -> None:
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(product.attributes)
    cleaned = {normalize(w).strip().lower() for w in words if w and w.strip()}
    return sorted(cleaned, key=len, reverse=True)


def _strip_known(text: str, known: Iterable[str]) -> str:
    """``text`` (NFKC) with the product's own words blanked out, case-insensitively; the rest keeps its case."""
    text = normalize(text)
    lowered = text.lower()
    present = [w for w in known if w in lowered]
    if not present:
        return text
    return re.sub("|".join(map(re.escape, present)), " ", text, flags=re.IGNORECASE)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _fields(variant: CopyVariant) -> list[tuple[str, str]]:
    out = [("headline", variant.headline), ("body", variant.body)]
    out += [(f"bullets[{i}]", b) for i, b in enumerate(variant.bullets)]
    out.append(("cta", variant.cta))
    return out


def language_problems(variant: CopyVariant, language: str, known: Iterable[str] = ()) -> list[str]:
    """What in ``variant`` is not in ``language`` (a primary code: zh, en, ja, ...); empty when all of it is.

    ``known``: the product's own words (:func:`product_words`), which may appear in any language.
    """
    lang = language.split("-")[0].split("_")[0].lower()
    known = list(known)
    want = language_name(lang)
    problems: list[str] = []
    any_kana = False
    for name, raw in _fields(variant):
        text = _strip_known(raw, known)
        if not text.strip():
            continue
        if lang not in CJK:
            for chars, what in ((HAN_CHARS + KANA_CHARS, "Chinese/Japanese"), (HANGUL_CHARS, "Korean")):
                for run in script_runs(text, chars):
                    if len(run) >= 2 or (what == "Korean"):
                        problems.append(f"{name}: {what} text in {want} copy: {_short(run)}")
            continue
        any_kana = any_kana or KANA.search(text) is not None
        cjk = HAN.search(text) or KANA.search(text) or HANGUL.search(text)
        words = LATIN_WORD.findall(text)
        if not cjk and len(words) >= MIN_LATIN_WORDS_FIELD and not name.startswith("bullets"):
            problems.append(f"{name}: written in Latin letters, not {want}: {_short(raw)}")
            continue
        for run in _LATIN_RUN.finditer(text):
            if len(LATIN_WORD.findall(run.group(0))) >= MIN_LATIN_WORDS_RUN:
                problems.append(f"{name}: a phrase not in {want}: {_short(run.group(0))}")
        foreign = {"zh": ((KANA, "Japanese kana"), (HANGUL, "Korean hangul")),
                   "ja": ((HANGUL, "Korean hangul"),),
                   "ko": ((KANA, "Japanese kana"),)}[lang]
        for pattern, what in foreign:
            if pattern.search(text):
                problems.append(f"{name}: {what} in {want} copy")
    if lang == "ja" and not any_kana and HAN.search(variant.text()):
        problems.append(f"written in Chinese characters without kana, not {want}")
    return problems
