"""The local transformers provider, the fallback when the hosted API is down (needs the ``local`` extra)."""

from service.provider.local.generate import Generation
from service.provider.local.provider import LocalProvider

__all__ = ["Generation", "LocalProvider"]
