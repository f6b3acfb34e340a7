"""Streaming answers (issue 15): the model's structured output read as it arrives, sent as server-sent events.

:mod:`.output` parses the streamed JSON incrementally and turns it into events (each validated item as
soon as its id is complete, text deltas); :mod:`.events` is what a pipeline emits to (a queue the HTTP
layer drains, or nothing when the client did not ask to stream); :mod:`.sse` is the HTTP side: framing,
the response, keep-alives and cancelling the computation when the client leaves.
"""
