"""Model prose leaves with no markup, links, e-mail addresses or phone numbers of the model's making.

An obedient model wrote ``<script>`` tags, a phone number and "Visit http://phish.example to
claim FAKE-1" into reasons and summaries (issue 13 item 10): text a storefront renders next to a
real product. Whatever the model writes, before it is shown:

- **markup**: HTML tags are removed, ``<script>``/``<style>`` with their content (nh3, the Ammonia
  sanitizer), also when the model wrote them entity-encoded;
- **links, e-mail addresses, phone numbers**: the sentence carrying one is removed, unless the same
  link, address or number is in the product's own data (a brand's hotline in its description
  may be quoted). Removing the whole sentence, not just the token, is deliberate: "Visit to claim
  FAKE-1" is still a lure. Links and addresses are found by linkify-it-py (bare domains too),
  phone numbers and obfuscated addresses ("carol at example dot com") by :mod:`service.ops.privacy`.

What is removed is counted by kind (``shopguide_output_sanitized_total``). A text left empty, or
unusable, is replaced by one built from the product's facts by the caller, as for any unusable
reason (:mod:`service.output.prose`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import nh3
from linkify_it import LinkifyIt

from service.ops.privacy import contact_spans

KINDS = ("markup", "url", "email", "phone")
_MARKUP_HINT = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
# A sentence ends at CJK or Latin final punctuation (Latin "." only before a space or the end) or a line break.
_BOUNDARY = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")
_SPACES = re.compile(r"[ \t]{2,}")
# linkify-it knows the common TLDs and every two-letter one; bare domains on these newer ones are common in spam too.
_linkify = LinkifyIt(options={"fuzzy_link": True, "fuzzy_email": True, "fuzzy_ip": True}).tlds(
    ["example", "shop", "store", "top", "xyz", "site", "online", "vip", "club", "app", "link", "click", "icu", "wang"],
    keep_old=True,
)


def own_data(product: Any) -> list[str]:
    """The texts of a catalog product that model prose may quote links, addresses and numbers from."""
    texts = [product.title, product.description, product.brand, *product.tags, product.url or ""]
    texts += [str(v) for v in product.attributes.values() if isinstance(v, (str, int, float))]
    return [t for t in texts if t]


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[str, ...] = ()  # one entry per thing removed, by kind


def strip_markup(text: str) -> str:
    """``text`` without HTML tags (``script``/``style`` with their content), as plain text."""
    for _ in range(3):  # entity-encoded tags decode into tags: clean until nothing changes
        if not _MARKUP_HINT.search(text):
            return text
        cleaned = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}, strip_comments=True))
        if cleaned == text:
            return text
        text = cleaned
    return re.sub(r"[<>]", "", text)


def _normal(kind: str, value: str) -> str:
    if kind == "phone":
        return "".join(c for c in value if c.isdigit())[-11:]
    value = value.lower().removeprefix("mailto:")
    return re.sub(r"^[a-z]+://", "", value).rstrip("/")


# linkify-it costs ~1 ms on a 90-character sentence: only text that could hold a link or address gets it.
_LINK_HINT = re.compile(r"://|www\.|@|＠|[A-Za-z0-9\-]\.[A-Za-z]{2,}|\d+\.\d+\.\d+\.\d+")


def _found(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, normalized value) of each link, address and phone number in ``text``."""
    spans: list[tuple[int, int, str, str]] = []
    for match in (_linkify.match(text) if _LINK_HINT.search(text) else None) or ():
        kind = "email" if match.schema == "mailto:" or (not match.schema and "@" in match.raw) else "url"
        spans.append((match.index, match.last_index, kind, _normal(kind, match.raw)))
    for start, end, kind in contact_spans(text):
        if not any(s < end and start < e for s, e, _, _ in spans):
            spans.append((start, end, kind, _normal(kind, text[start:end])))
    return sorted(spans)


def _sentence(text: str, start: int, end: int, protected: list[tuple[int, int]]) -> tuple[int, int]:
    """The bounds of the sentence around ``text[start:end]``; boundaries inside ``protected`` spans do not count."""

    def boundary(pos: int) -> bool:
        return not any(s <= pos < e for s, e in protected)

    left = 0
    for m in _BOUNDARY.finditer(text, 0, start):
        if boundary(m.start()):
            left = m.end()
    right = len(text)
    for m in _BOUNDARY.finditer(text, end):
        if boundary(m.start()):
            right = m.end()
            break
    return left, right


# C0 and C1 control characters but tab, line feed and carriage return; zero-width space and bidi controls too
# (not the zero-width joiners emoji and some scripts need).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class ProseSanitizer:
    """Cleans model-written text against the data it may quote; ``count(kind, n)`` hears what it removed."""

    def __init__(self, count: Callable[[str, int], None] | None = None) -> None:
        self._count = count

    def clean(self, text: str, own_data: Iterable[str] = ()) -> Cleaned:
        """``text`` fit to show; ``own_data``: the product texts whose links, addresses and numbers it may repeat."""
        if not text:
            return Cleaned(text)
        removed: list[str] = []
        plain = strip_markup(text)
        if plain != text:
            removed.append("markup")
        visible = _CONTROL.sub("", plain)  # escape codes and other control characters (the packaged model wrote ESC)
        if visible != plain:
            plain = visible
            removed.append("control")
        spans = _found(plain)
        if spans:
            allowed = {value for data in own_data for _, _, _, value in _found(data)}
            drop = [(s, e, kind) for s, e, kind, value in spans if value not in allowed]
            if drop:
                protected = [(s, e) for s, e, _, _ in spans]
                cuts = sorted(_sentence(plain, s, e, protected) for s, e, _ in drop)
                pieces, at = [], 0
                for left, right in cuts:
                    if left > at:
                        pieces.append(plain[at:left])
                    at = max(at, right)
                pieces.append(plain[at:])
                plain = "".join(pieces)
                removed.extend(kind for _, _, kind in drop)
        if removed:
            plain = _SPACES.sub(" ", plain).strip()
            if self._count:
                for kind in set(removed):
                    self._count(kind, removed.count(kind))
        return Cleaned(plain, tuple(removed))

    def text(self, text: str, own_data: Iterable[str] = ()) -> str:
        return self.clean(text, own_data).text
