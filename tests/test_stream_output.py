"""The structured output read while it streams (service/stream/output.py) and the SSE framing."""

from __future__ import annotations

import json
import re

from service.stream.events import Events
from service.stream.output import OutputStream
from service.stream.sse import frame
from tests.support.openai_upstream import stream_tokens

CANDIDATES = {"SG-1", "SG-2", "SG-3"}
ANSWER = {"items": [{"id": "SG-2", "reason": "Light and warm."}, {"id": "NOPE", "reason": "x"},
                    {"id": "SG-2", "reason": "again"}, {"id": "SG-1", "reason": "Cheap."}, {"id": "SG-3", "reason": "z"}],
          "summary": "Two good picks."}


def drain(events):
    out = []
    while (event := events.next(0)) not in (None, ("", {})):
        out.append(event)
    return out


def fed(text, k=2, pieces=None):
    events = Events()
    out = OutputStream(events)
    out.bind(lambda pid: {"id": pid} if pid in CANDIDATES else None, k)
    got = []
    for piece in pieces or stream_tokens(text):
        out.delta(piece)
        got.extend(drain(events))
    return out, got


def test_items_are_sent_once_their_id_is_complete_and_valid():
    text = json.dumps(ANSWER)
    out, got = fed(text)
    items = [data["id"] for name, data in got if name == "item"]
    assert items == ["SG-2", "SG-1"] and out.emitted == items  # no unknown id, no repeat, at most k
    reasons = "".join(data["delta"] for name, data in got if name == "reason" and data["id"] == "SG-2")
    assert reasons == "Light and warm."
    assert "".join(d["delta"] for n, d in got if n == "summary") == "Two good picks."


def test_a_partial_id_is_never_matched():
    out, got = fed('{"items": [{"id": "SG-', pieces=['{"items": [{"id": "SG-'])
    assert got == []
    out.delta('1"')
    assert out.emitted == ["SG-1"]


def test_an_item_comes_before_its_reason_ends():
    text = json.dumps({"items": [{"id": "SG-1", "reason": "A sentence. " * 5}], "summary": ""})
    _out, got = fed(text, k=1)
    names = [n for n, _ in got]
    assert names[0] == "item" and names.count("reason") > 3


def test_code_fences_and_restarts():
    events = Events()
    out = OutputStream(events, text_event="reply")
    out.bind(lambda pid: {"id": pid}, 3)
    out.begin()
    for piece in stream_tokens('```json\n{"items": [{"id": "SG-1", "reason": "r"}], "summary": "hi"}'):
        out.delta(piece)
    first = drain(events)
    assert [n for n, _ in first if n == "item"] == ["item"] and ("reply", {"delta": "hi"}) in first
    out.begin()  # a retry: what streamed no longer counts
    assert drain(events) == [("restart", {"reason": "the answer is being generated again"})]
    assert out.emitted == []


def test_finish_sends_what_did_not_stream_and_restarts_when_the_answer_changed():
    events = Events()
    out = OutputStream(events)
    out.bind(lambda pid: {"id": pid}, 3)
    out.delta('{"items": [{"id": "SG-9", "reason": ""}')
    drain(events)
    out.finish([{"id": "SG-1"}, {"id": "SG-2"}], "From retrieval.")
    names = [n for n, _ in drain(events)]
    assert names == ["restart", "item", "item", "summary"]


def test_settle_feeds_an_answer_that_did_not_stream():
    events = Events()
    out = OutputStream(events)
    out.bind(lambda pid: {"id": pid}, 3)
    out.settle(json.dumps({"items": [{"id": "SG-3", "reason": "r"}], "summary": "s"}))
    assert out.emitted == ["SG-3"]


def test_frames_are_one_line_of_json():
    data = frame("reply", {"delta": "line one\nline two"})
    assert data.startswith(b"event: reply\ndata: ") and data.endswith(b"\n\n") and data.count(b"\n") == 3


def test_cancel_runs_the_closer_once_registered_even_late():
    events = Events()
    closed = []
    events.cancel()
    events.on_cancel(lambda: closed.append(1))
    assert events.cancelled and closed == [1]
    events.emit("item", {})  # nothing is queued for a consumer that left
    assert events.next(0) == ("", {})


def test_prose_streams_a_cleaned_sentence_at_a_time():
    events = Events()
    out = OutputStream(events)
    out.bind(lambda pid: {"id": pid}, 1, clean=lambda text, _pid: re.sub(r"Call [^.]*\.\s*", "", text))
    text = json.dumps({"items": [{"id": "SG-1", "reason": "Warm. Call 555-0100 now. Light."}], "summary": "One pick. Enjoy"})
    for piece in stream_tokens(text):
        out.delta(piece)
    got = drain(events)
    reason = "".join(d["delta"] for n, d in got if n == "reason")
    assert reason == "Warm. Light." and "555" not in json.dumps(got)
    assert "".join(d["delta"] for n, d in got if n == "summary") == "One pick. Enjoy"


def test_a_small_models_reasons_go_out_whole_and_only_as_the_answer_shows_them():
    """An attempt begun compact (a small model): each reason is judged whole by ``keep`` (the answer's own
    check, which clips and cleans it) and sent as it returns it, or not at all; ``finish`` then sends the answer's
    reason for a held one, so each item's reason deltas add up to the final reason."""
    events = Events()
    out = OutputStream(events)
    judged = []

    def keep(raw, pid):
        judged.append(pid)
        return None if pid == "SG-1" else " ".join(raw.split())

    out.bind(lambda pid: {"id": pid} if pid in CANDIDATES else None, 2, keep=keep)
    text = json.dumps({"items": [{"id": "SG-2", "reason": "Light  and warm. Packs small."},
                                 {"id": "SG-1", "reason": "2022-01-01"}]})
    out.settle(text, compact=True)  # a provider that answered whole (the local model in process)
    got = drain(events)
    assert [n for n, _ in got] == ["item", "item", "reason"] and judged == ["SG-2", "SG-1"]  # each judged once
    assert got[2][1] == {"id": "SG-2", "delta": "Light and warm. Packs small."}  # whole, as the answer has it
    out.finish([{"id": "SG-2", "reason": "Light and warm. Packs small."}, {"id": "SG-1", "reason": "From the facts."}], "")
    assert drain(events) == [("reason", {"id": "SG-1", "delta": "From the facts."})]


def test_a_small_models_attempt_without_a_check_shows_no_reason_until_the_answer():
    events = Events()
    out = OutputStream(events)
    out.bind(lambda pid: {"id": pid} if pid in CANDIDATES else None, 1)
    out.begin(compact=True)
    for piece in stream_tokens(json.dumps({"items": [{"id": "SG-3", "reason": "Good."}]})):
        out.delta(piece)
    assert [n for n, _ in drain(events)] == ["item"]


def test_streamed_reasons_are_prefixes_of_the_answers_whitespace_collapsed_reason():
    """The answer's reason has its whitespace collapsed (reconcile): a model's line breaks and double spaces
    stream as the answer has them, so what streamed is how the final reason starts."""
    raw = "Warm down.\n\nLight  to carry.   Packs   small. "
    _out, got = fed(json.dumps({"items": [{"id": "SG-1", "reason": raw}]}), k=1)
    streamed = "".join(d["delta"] for n, d in got if n == "reason")
    assert streamed == " ".join(raw.split()) and sum(n == "reason" for n, _ in got) >= 2
