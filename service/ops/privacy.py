"""Personal data kept out of model prompts: masking of shopper text and keyed hashing of user ids.

Shopper text reaches hosted providers, so e-mail addresses (also written out, "carol at example
dot com", "carol(at)example.com", "carol艾特example点com"), phone numbers (international,
Chinese mobile and landline, also grouped with spaces or dashes or in full-width digits, North
American), Chinese resident identity card numbers (18 characters with a province code and a real
birth date, read by python-stdnum's ``cn.ric``; a wrong check character does not make a mistyped
id less personal) and card numbers (Luhn-valid, 13-19
digits) are replaced by placeholders the model can read ("[email]", "[phone]", "[id]", "[card]").
Product numbers stay: "5000mAh", "iPhone 15", "200元以内" and "RTX 4060" are not personal data
and matter to the answer.

Names and postal addresses are out of scope: no well-kept library recognises them reliably in
Chinese and English shopper text without a model (Presidio needs a spaCy model per language;
see docs/failure-modes.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

from stdnum.cn import ric

from service.settings import PRIVACY_MASKS, Settings

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
ID = "[id]"

Span = tuple[int, int]
# Full-width digits and separators, as an IME types them, read as ASCII; one character for one, so spans stay put.
_ASCII = str.maketrans("０１２３４５６７８９－＋（）．＠", "0123456789-+().@")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_TLD = r"(?:com|net|org|edu|gov|info|biz|io|co|me|cn|uk|de|jp|hk|tw|sg|fr|ru|au|ca|us)"
_LOCAL = r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*"
_LABEL = r"[A-Za-z0-9][A-Za-z0-9\-]*"
_AT_SIGN = r"\s*(?:@|[(\[{<]\s*at\s*[)\]}>]|艾特|圈a)\s*"
_DOT_ANY = r"(?:\s*(?:\.|。|[(\[{<]\s*dot\s*[)\]}>]|点)\s*|\s+dot\s+)"
_OBFUSCATED_EMAILS = (
    # a symbol or bracketed "at": "carol(at)example.com", "carol [at] example [dot] com", "carol艾特example点com"
    re.compile(rf"{_LOCAL}{_AT_SIGN}{_LABEL}(?:{_DOT_ANY}{_LABEL})*{_DOT_ANY}{_TLD}\b", re.IGNORECASE),
    # the word "at", then "dot" or a dot: "carol at example dot com", "carol at example.co.uk"
    re.compile(rf"{_LOCAL}\s+at\s+{_LABEL}(?:(?:\s+dot\s+|\.){_LABEL})*(?:\s+dot\s+|\.){_TLD}\b", re.IGNORECASE),
)
# 13-19 digits, optionally grouped by single spaces or dashes; Luhn decides.
_CARD = re.compile(r"(?<![\d\-+])\d(?:[ \-]?\d){12,18}(?![\d\-])")
# 18 characters, optionally grouped 6-8-4: region, birth date, sequence, check character; stdnum decides.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{6} ?\d{8} ?\d{3}[0-9Xx](?![0-9A-Za-z])")
_SEP = r"(?:[ \t]*[\-‐‑–—.·][ \t]*|[ \t]+)"  # a dash or dot with optional spaces around it, or spaces
_PHONES = (
    # +<country> then groups: "+44 20 7946 0958", "+1 (555) 123-4567", "+8613812345678"
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}(?!\d)"),
    # Chinese mobile, with 86/0086/(+86) or not, its 11 digits grouped any way: "138 1234 5678", "138-1234-5678",
    # "1381 234 5678", "138 - 1234 - 5678"
    re.compile(rf"(?<![\d\-])(?:(?:\(\+?86\)|\+?86|0086){_SEP}?)?1[3-9](?:{_SEP}?\d){{9}}(?!{_SEP}?\d)"),
    # Chinese landline with area code: "010-12345678", "0755-1234567", "010 1234 5678"
    re.compile(rf"(?<![\d\-])0\d{{2,3}}(?:-\d{{7,8}}|{_SEP}\d{{3,4}}{_SEP}?\d{{4}})(?![\d\-])"),
    # North American: "(555) 123-4567", "555-123-4567", "555.123.4567"
    re.compile(r"(?<![\d\-])(?:\(\d{3}\) ?|\d{3}[.\-])\d{3}[.\-]\d{4}(?![\d\-])"),
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string (card numbers pass it)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


def resident_id_like(text: str) -> bool:
    """Shaped like a Chinese resident identity card number: a province code and a real birth date (stdnum).

    The check character is not required to match: a number with a mistyped digit, or the issue's own
    example ``110101199003074518`` (whose check character should be 4), is still someone's id.
    """
    number = text.replace(" ", "")
    if number[:2] not in _PROVINCES:
        return False
    try:
        born = ric.get_birth_date(number)
    except ValueError:  # stdnum's InvalidComponent: no such date
        return False
    return born.year >= 1900


def resident_id_valid(text: str) -> bool:
    """A Chinese resident identity card number whose check character matches too (ISO 7064 MOD 11-2)."""
    return ric.is_valid(text.replace(" ", ""))


_EMAIL_HINT = re.compile(r"@|＠|\bat\b|艾特|圈a", re.IGNORECASE)


def _digit_count(text: str) -> int:
    return sum(map(str.isdigit, text))


def email_spans(text: str) -> list[Span]:
    if not _EMAIL_HINT.search(text):  # most text has no address: skip the patterns (they cost ~0.1 ms)
        return []
    text = text.translate(_ASCII)
    spans = [m.span() for m in _EMAIL.finditer(text)]
    for pattern in _OBFUSCATED_EMAILS:
        spans += [m.span() for m in pattern.finditer(text)]
    return _merge(spans)


def card_spans(text: str) -> list[Span]:
    if _digit_count(text) < 13:
        return []
    text = text.translate(_ASCII)
    out = []
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            out.append(m.span())
    return out


def id_spans(text: str) -> list[Span]:
    if _digit_count(text) < 17:
        return []
    text = text.translate(_ASCII)
    return [m.span() for m in _RESIDENT_ID.finditer(text) if resident_id_like(m.group())]


def phone_spans(text: str) -> list[Span]:
    if _digit_count(text) < 7:
        return []
    text = text.translate(_ASCII)
    spans = []
    for pattern in _PHONES:
        spans += [m.span() for m in pattern.finditer(text) if 7 <= len(_digits(m.group())) <= 15 and _grouped(m.group())]
    return _merge(spans)


def _grouped(number: str) -> bool:
    """At most four separators: "13 14 15 16 17 2" (sizes) is no phone number; "+1 (555) 123-4567" is."""
    return len(re.findall(r"\D+", number.lstrip("+("))) <= 4


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _replace(text: str, spans: list[Span], placeholder: str) -> str:
    for start, end in reversed(spans):
        text = text[:start] + placeholder + text[end:]
    return text


def contact_spans(text: str) -> list[tuple[int, int, str]]:
    """E-mail addresses (plain or written out) and phone numbers in ``text``: (start, end, "email" | "phone")."""
    emails = email_spans(text)
    phones = [s for s in phone_spans(text) if not any(a < s[1] and s[0] < b for a, b in emails)]
    return sorted([(a, b, "email") for a, b in emails] + [(a, b, "phone") for a, b in phones])


# Order matters: e-mails first ("13812345678@163.com" is an address, not a phone), then resident ids
# (18 digits a card pattern would also take), cards before phones. Each step sees the text the last left.
_MASKERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("email", lambda text: _replace(text, email_spans(text), EMAIL)),
    ("id", lambda text: _replace(text, id_spans(text), ID)),
    ("card", lambda text: _replace(text, card_spans(text), CARD)),
    ("phone", lambda text: _replace(text, phone_spans(text), PHONE)),
)


class Redactor:
    """Masks personal data in text and hashes user ids, as configured."""

    def __init__(self, masks: Iterable[str] = PRIVACY_MASKS, user_id_key: bytes | None = None) -> None:
        wanted = set(masks)
        unknown = wanted - set(PRIVACY_MASKS)
        if unknown:
            raise ValueError(f"unknown privacy masks: {sorted(unknown)}")
        self.masks = frozenset(wanted)
        self._steps = [fn for name, fn in _MASKERS if name in wanted]
        self._user_id_key = user_id_key

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        salt = settings.user_id_salt.get_secret_value().encode() if settings.user_id_salt else None
        return cls(settings.privacy_mask, salt)

    def redact(self, text: str) -> str:
        """``text`` with the configured kinds of personal data replaced by placeholders."""
        if not self._steps or not text:
            return text
        for step in self._steps:
            text = step(text)
        return text

    def user_id_hash(self, user_id: str | None) -> str | None:
        """HMAC-SHA256 of the user id under SHOPGUIDE_USER_ID_SALT (hex); None without a salt or an id."""
        if not user_id or self._user_id_key is None:
            return None
        return hmac.new(self._user_id_key, user_id.encode(), hashlib.sha256).hexdigest()
