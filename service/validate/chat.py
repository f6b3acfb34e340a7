"""The /v1/chat request contract."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from service.chat.session import SESSION_ID_PATTERN
from service.validate.base import StrictModel
from service.validate.recommend import Filters, Language, User


class ChatTurnRequest(StrictModel):
    """One shopper message in a conversation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"message": "想买个降噪耳机，预算1000以内"},
                {"session_id": "q3Vb1xk2Qm9nT0aZc8yWfPZr", "message": "便宜点的"},
            ]
        }
    )

    session_id: str | None = Field(
        None, pattern=SESSION_ID_PATTERN, description="The conversation to continue; absent: a new one starts."
    )
    message: str = Field(min_length=1, max_length=2000, description="The shopper's words.")
    k: int = Field(5, ge=1, le=20, description="How many products to show.")
    filters: Filters = Field(
        default_factory=Filters, description="Hard constraints for this turn; they win over what the words say."
    )
    language: Language | None = Field(None, description="Answer language; default: the message's language.")
    user: User | None = Field(None, description="Who is asking; the id is stored only as its keyed hash.")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value
