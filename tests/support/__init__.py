"""What the tests (and bench/) share; conftest.py turns the common pieces into fixtures.

- ``openai_upstream``: the one scripted OpenAI-compatible server (real HTTP; fails, hangs, streams, misbehaves).
- ``picks`` / ``copywriter``: stand-ins for a model following the recommend / copy prompts (its replies).
- ``scripted_provider``: the same picks as an in-process Provider, failing as scripted.
- ``small_shop``: a six-product shop with a word-overlap retriever and app builders (ops tests, gunicorn).
- ``redis_db``: the one ``REDIS_URL`` (``SHOPGUIDE_TEST_REDIS_URL``) and prefix clean-up.
- ``api_keys``, ``prometheus``, ``waiting``, ``datasets``, ``catalogs``, ``copy_products``, ``recommend_cases``:
  keys per scope, /metrics samples, polling, the public datasets, synthetic and known products, local-model cases.
"""
