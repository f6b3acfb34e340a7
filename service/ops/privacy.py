"""Personal data kept out of model prompts: masking of shopper text and keyed hashing of user ids.

Shopper text reaches hosted providers, so e-mail addresses, phone numbers
(international, Chinese mobile and landline, North American) and card numbers
(Luhn-valid, 13-19 digits) are replaced by placeholders the model can read
("[email]", "[phone]", "[card]"). Product numbers stay: "5000mAh", "iPhone 15",
"200元以内" and "RTX 4060" are not personal data and matter to the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

from service.settings import PRIVACY_MASKS, Settings

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by single spaces or dashes; Luhn decides.
_CARD = re.compile(r"(?<![\d\-+])\d(?:[ \-]?\d){12,18}(?![\d\-])")
_PHONES = (
    # +<country> then groups: "+44 20 7946 0958", "+1 (555) 123-4567", "+8613812345678"
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}(?!\d)"),
    # Chinese mobile, optionally with 86 and grouped 3-4-4: "13812345678", "138-1234-5678"
    re.compile(r"(?<!\d)(?:86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?!\d)"),
    # Chinese landline with area code: "010-12345678", "0755-1234567"
    re.compile(r"(?<![\d\-])0\d{2,3}-\d{7,8}(?![\d\-])"),
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


def _mask_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = _digits(match.group())
        return CARD if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()

    return _CARD.sub(replace, text)


def _mask_phones(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return PHONE if 7 <= len(_digits(match.group())) <= 15 else match.group()

    for pattern in _PHONES:
        text = pattern.sub(replace, text)
    return text


def _mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL, text)


# Order matters: e-mails first ("13812345678@163.com" is an address, not a phone), cards before phones.
_MASKERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("email", _mask_emails),
    ("card", _mask_cards),
    ("phone", _mask_phones),
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
