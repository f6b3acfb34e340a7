"""The model's structured output (:class:`service.output.schema.RecommendOutput`) read while it streams.

The text so far is parsed as partial JSON (``jiter``, the parser pydantic and the openai SDK use) after
every delta: an item is sent once its ``id`` string is complete (a partial id is never matched) and the
id passes the same rules :func:`service.output.reconcile.reconcile` applies to the whole answer (a
candidate, not a repeat, at most ``k``), so the items streamed are the first items of the final answer.
Reasons and the summary/reply go out as deltas, a sentence at a time, each cleaned as the whole answer's
prose is (:mod:`service.output.sanitize`: a sentence with a link or a phone number of the model's making is
never sent). The final ``done`` event still carries the whole
answer, validated as a non-streamed one; what it says wins (a reason found unusable is replaced there).

A small model's answer (an attempt begun ``compact``) streams its items as they come, but each reason only
once it is whole and passes the check the final answer applies (``bind(keep=...)``: most of what a 135M model
writes is replaced there); a reason held back goes out before ``done`` as the answer's own (from the facts).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jiter

from service.stream.events import Events

ItemFor = Callable[[str], "dict[str, Any] | None"]  # the item for a candidate id (reason empty), None if not one
# How model prose is cleaned before it is shown (service.output.sanitize): (text, the item id or None) -> text
Clean = Callable[[str, "str | None"], str]
# A small model's whole reason for a pick as the answer shows it, None when replaced: (raw reason, item id) -> str | None
Keep = Callable[[str, str], "str | None"]
# A sentence ends at CJK or Latin final punctuation (Latin "." only before a space) or a line break.
_BOUNDARY = re.compile(r"[。！？!?；;\n]|\.(?=\s)")


def _sentences(text: str) -> str:
    """``text`` up to its last complete sentence."""
    last = None
    for last in _BOUNDARY.finditer(text):
        pass
    return text[: last.end()] if last else ""


class OutputStream:
    """A :class:`service.provider.base.StreamSink` that turns streamed output into ``item``/text events."""

    def __init__(self, events: Events, *, text_event: str = "summary") -> None:
        self._events = events
        self._item_for: ItemFor = lambda _pid: None
        self._k = 0
        self._text_event = text_event
        self._stream_text = True
        self._clean: Clean = lambda value, _pid: value
        self._keep: Keep | None = None
        self._compact = False
        self._reset()

    def understood(self, constraints: dict[str, Any]) -> None:
        """The first event: the constraints the answer honours."""
        self._events.emit("understood", constraints)

    def bind(
        self, item_for: ItemFor, k: int, *, text: bool = True, clean: Clean | None = None, keep: Keep | None = None
    ) -> None:
        """What streamed ids may be: ``item_for(id)`` is the item of a valid candidate (None otherwise), at most ``k``.

        ``text=False``: the model's text is not streamed (the answer's text is decided once it is whole, e.g. a
        comparison held to the products' data); it goes out in one piece before ``done``. ``keep``: whether a
        small model's whole reason may be shown (none is shown of a compact attempt without it)."""
        self._item_for = item_for
        self._k = k
        self._stream_text = text
        self._clean = clean or (lambda value, _pid: value)
        self._keep = keep

    def _reset(self) -> None:
        self._buf = ""
        self._start = -1  # where the JSON object starts in _buf (a model may open with a code fence)
        self._broken = False
        self._picks: list[str | None] = []  # per pick position: the id streamed for it, or None (not sent)
        self._reasons: dict[str, str] = {}
        self._judged: set[str] = set()  # a small model's reasons already judged whole
        self._summary = ""
        self.emitted: list[str] = []

    # -- StreamSink --------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._events.cancelled

    def on_cancel(self, closer: Callable[[], None] | None) -> None:
        self._events.on_cancel(closer)

    def begin(self, *, compact: bool = False) -> None:
        if self._buf:
            self._events.emit("restart", {"reason": "the answer is being generated again"})
        self._reset()
        self._compact = compact

    def delta(self, text: str) -> None:
        self._buf += text
        if self._broken:
            return
        if self._start < 0:
            self._start = self._buf.find("{")
            if self._start < 0:
                return
        data = self._buf[self._start :].encode()
        try:
            complete = jiter.from_json(data, partial_mode="on")
            partial = jiter.from_json(data, partial_mode="trailing-strings")
        except ValueError:
            self._broken = True  # not JSON as it streams: the whole answer is parsed (and repaired) at the end
            return
        if isinstance(complete, dict) and isinstance(partial, dict):
            self._items(complete.get("items"), partial.get("items"))
            self._text(partial.get("summary"), complete="summary" in complete)

    # -- for the pipeline ----------------------------------------------------------------------
    def settle(self, text: str, *, compact: bool = False) -> None:
        """The whole answer text, once known: fed at once when it was not what streamed (a provider that does
        not stream, or a re-ask), so its items and text are still sent before ``done``. ``compact``: it is a
        small model's answer (see :meth:`begin`)."""
        if text != self._buf:
            self.begin(compact=compact)
            self.delta(text)

    def finish(self, items: list[dict[str, Any]], text: str) -> None:
        """Before ``done``: the final answer's items not streamed yet (all of them for a cached answer), and the
        rest of its text. When what streamed is not how the final answer starts (the model's answer was
        refused and retrieval answered), a ``restart`` comes first."""
        ids = [item["id"] for item in items]
        if ids[: len(self.emitted)] != self.emitted:
            self.begin() if self._buf else self._events.emit("restart", {"reason": "the answer changed"})
            self._reset()
        for item in items[: len(self.emitted)]:  # streamed items: the rest of their reason (all of a held one)
            sent, final = self._reasons.get(item["id"], ""), item.get("reason") or ""
            if len(final) > len(sent) and final.startswith(sent):
                self._events.emit("reason", {"id": item["id"], "delta": final[len(sent) :]})
                self._reasons[item["id"]] = final
        for item in items[len(self.emitted) :]:
            self._events.emit("item", item)
            self.emitted.append(item["id"])
        if text.startswith(self._summary) and len(text) > len(self._summary):
            self._events.emit(self._text_event, {"delta": text[len(self._summary) :]})
            self._summary = text

    # -- parsing --------------------------------------------------------------------------------
    def _items(self, complete: Any, partial: Any) -> None:
        if not isinstance(complete, list):
            return
        for position in range(len(self._picks), len(complete)):
            pick = complete[position]
            pid = pick.get("id") if isinstance(pick, dict) else None
            if pid is None:
                break  # its id is not complete yet
            self._picks.append(self._accept(str(pid).strip()))
        if not isinstance(partial, list):
            return
        for position, pid in enumerate(self._picks):
            if pid is None or position >= len(partial) or not isinstance(partial[position], dict):
                continue
            reason = partial[position].get("reason")
            if isinstance(reason, str):
                sent = self._reasons.get(pid, "")
                whole = position < len(complete) and "reason" in complete[position]
                if self._compact:  # a small model's reason: whole, and only as the answer will show it
                    if not whole or pid in self._judged:
                        continue
                    self._judged.add(pid)
                    kept = self._keep(reason, pid) if self._keep is not None else None
                    if kept is None:
                        continue
                    ready = kept
                else:  # whitespace as the answer's reason has it (collapsed), so what streams is its prefix
                    ready = self._ready(" ".join(reason.split()), pid, complete=whole)
                if len(ready) > len(sent) and ready.startswith(sent):
                    self._events.emit("reason", {"id": pid, "delta": ready[len(sent) :]})
                    self._reasons[pid] = ready

    def _accept(self, pid: str) -> str | None:
        if pid in self.emitted or len(self.emitted) >= self._k:
            return None
        item = self._item_for(pid)
        if item is None:
            return None
        self.emitted.append(pid)
        self._events.emit("item", item)
        return pid

    def _ready(self, text: str, pid: str | None, *, complete: bool) -> str:
        """What of ``text`` may be shown yet: its complete sentences (all of it once the string is closed), cleaned."""
        whole = text if complete else _sentences(text)
        return self._clean(whole, pid) if whole else ""

    def _text(self, summary: Any, complete: bool = False) -> None:
        if not self._stream_text or not isinstance(summary, str):
            return
        ready = self._ready(summary, None, complete=complete)
        if len(ready) > len(self._summary) and ready.startswith(self._summary):
            self._events.emit(self._text_event, {"delta": ready[len(self._summary) :]})
            self._summary = ready
