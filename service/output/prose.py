"""Is a model-written reason or summary fit to show a shopper?

A schema-valid answer can still be unusable prose: a small model under constrained decoding may
loop on a product id until the length cap ("SG-OUT-0011_SG-OUT-0011_…"), or answer a Chinese
request in English. Such text is replaced by one built from the product's facts.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection

from service.text.script import HAN, HAN_CHARS, HANGUL, KANA

_LETTER = re.compile(r"[^\W\d_]")
# zlib shrinks ordinary sentences to 60-100 % of their UTF-8 size; a text looping on one phrase
# goes far lower. Checked only on texts long enough for the ratio to mean something.
_MIN_RATIO = 0.4
_MIN_CHARS_FOR_RATIO = 40
# A short text can still loop: the packaged 135M model answered "素衡 男士石石石石石". One letter four times
# running is not prose, except digits ("10000mAh") and Latin capitals (sizes and grades: XXXXL, AAAA batteries).
_STUTTER = re.compile(r"([^\W\dA-Z_])\1{3,}")
# A run of three or more Chinese characters said twice in a row ("跃动跑步飞机跑步飞机", the packaged model).
# Only small models are held to it: people double longer phrases too (是不是是不是, 慢慢来慢慢来).
_CJK_REPEAT = re.compile(r"([\u3400-\u9fff]{3,})\1")


# What counts as a shared term between a small model's reason and its product's data: two Han characters in a row,
# a Latin word of three letters or more that is not a function word, or a number of two digits or more.
_HAN_RUN = re.compile(f"[{HAN_CHARS}]{{2,}}")
_TERM = re.compile(r"[^\W\d_]{3,}|\d{2,}")
_FUNCTION_WORDS = frozenset(
    "the and for with this that your you are its from has have can our all any not but great good best".split()
)


def _terms(text: str) -> set[str]:
    lowered = text.lower()
    terms = {run[i : i + 2] for run in _HAN_RUN.findall(lowered) for i in range(len(run) - 1)}
    terms.update(t for t in _TERM.findall(HAN.sub(" ", lowered)) if t not in _FUNCTION_WORDS)
    return terms


def says_twice(text: str) -> bool:
    """True when ``text`` says a run of three or more Chinese characters twice in a row (a small model looping
    in a short reason, below what :func:`repetitive` can tell from ordinary doubling)."""
    return bool(_CJK_REPEAT.search(text))


# Chinese characters that ordinary prose repeats whatever it is about
_FUNCTION_HAN = frozenset("的了是很也都和与更又不在有为就而且可让好最超非常这那款真太特个些点比还")


def strays(text: str, sources: Collection[str]) -> bool:
    """True when a short Chinese ``text`` (4-16 characters) repeats a character that its ``sources`` (the
    product's data, the shopper's words) never use: the packaged model's "素衡西装美丽美贵稳" and "男士美好美女美"
    pass every other check on the strength of one borrowed word. Function characters (的, 很…) do not count."""
    han = HAN.findall(text)
    if not 4 <= len(han) <= 16:
        return False
    known = set(HAN.findall("\n".join(sources))) | _FUNCTION_HAN
    seen: set[str] = set()
    for char in han:
        if char in known:
            continue
        if char in seen:
            return True
        seen.add(char)
    return False


def grounded(text: str, sources: Collection[str], *, name: str = "") -> bool:
    """True when ``text`` shares a term with ``sources`` (the product's own data) other than the terms of
    ``name`` (its brand): a reason from a small local model that names nothing of its product ("素服短服短"
    for 素色短款羽绒服), or nothing but its brand ("Alder", from the packaged model), is noise that passes the
    other checks. Hosted models paraphrase well, so only small-model answers are held to this."""
    shared = _terms(text) & _terms("\n".join(sources))
    return bool(shared - _terms(name)) if name else bool(shared)


def _script_fits(text: str, language: str) -> bool:
    lang = language.lower()
    if lang.startswith("zh"):
        return len(HAN.findall(text)) >= 2
    if lang == "ja":
        return bool(KANA.search(text) or HAN.search(text))
    if lang == "ko":
        return bool(HANGUL.search(text))
    return len(_LETTER.findall(text)) >= 3


def repetitive(text: str) -> bool:
    """True when ``text`` is mostly one phrase repeated."""
    if _STUTTER.search(text):
        return True
    raw = text.encode("utf-8")
    if len(text) < _MIN_CHARS_FOR_RATIO:
        # too short for the ratio: a few letters over and over ("美良良美良美良良", also from the packaged model)
        letters = _LETTER.findall(text)
        return len(letters) >= 6 and len(set(letters)) <= 0.3 * len(letters)
    return len(zlib.compress(raw, 9)) / len(raw) < _MIN_RATIO


def usable(text: str, language: str, internal_ids: Collection[str] = ()) -> bool:
    """Non-empty, in the answer's script, not looping, and free of internal product ids."""
    text = text.strip()
    if not text or not _script_fits(text, language) or repetitive(text):
        return False
    return not any(pid and pid in text for pid in internal_ids)
