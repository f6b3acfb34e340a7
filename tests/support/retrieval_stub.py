"""Lets ``service.app`` import while ``service.retrieve.factory`` is still on another branch.

Copy tests need the app factory but no retrieval. When the real factory module
exists this does nothing; otherwise it registers a stand-in whose retriever finds
nothing. Delete once ``service/retrieve/factory.py`` is on main.
"""

from __future__ import annotations

import importlib.util
import sys
import types


class _NoRetriever:
    def search(self, query, filters, n):  # noqa: ANN001, ANN201 - the Retriever protocol
        return []


def ensure_retriever_factory() -> None:
    """Install the stand-in module unless the real one can be imported."""
    if "service.retrieve.factory" in sys.modules or importlib.util.find_spec("service.retrieve.factory"):
        return
    module = types.ModuleType("service.retrieve.factory")
    module.build_retriever = lambda catalog, settings: _NoRetriever()  # type: ignore[attr-defined]
    sys.modules["service.retrieve.factory"] = module
