"""Shopper events: what shoppers did (views, clicks, carts, purchases, dismissals, ratings) and what they were shown.

- :mod:`service.events.schema`: the POST /v1/events contract and the history view.
- :mod:`service.events.keys`: user and session ids as keyed hashes (raw ids are never stored or logged).
- :mod:`service.events.store`: the store's interface and the in-process store (REDIS_URL unset).
- :mod:`service.events.redis_store`: the Redis store (a capped event stream and capped per-shopper state).
- :mod:`service.events.ingest`: a batch checked event by event, the good ones stored once each.
- :mod:`service.events.importer`: a shop's historical log (JSONL or CSV) loaded through the same checks.
"""
