"""Who the current request comes from, for views that scope data by API key (copy jobs, reviews)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request


@dataclass(frozen=True)
class Caller:
    """The request's API key name (None in open mode) and whether it holds the ops scope."""

    name: str | None
    ops: bool
    open_mode: bool

    @property
    def label(self) -> str:
        """Who to record as the author of a decision."""
        return self.name or "anonymous"


def caller() -> Caller:
    """The caller of this request; the guard has already authenticated it (or the service is open)."""
    guard = current_app.extensions.get("shopguide_guard")
    if guard is None or guard.keyring.open:
        return Caller(None, True, True)
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    principal = guard.keyring.authenticate(token.strip()) if kind.lower() == "bearer" else None
    if principal is None:  # a public route called without a key
        return Caller(None, False, False)
    return Caller(principal.name, "ops" in principal.scopes, False)
