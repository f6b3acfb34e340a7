"""The /v1/chat response contracts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.chat.clarify import Question
from service.chat.session import Turn
from service.respond.recommend import RecommendedItem


class ChatTimings(BaseModel):
    session: float = Field(description="Milliseconds loading and saving the conversation.")
    retrieval: float = Field(description="Milliseconds understanding the message and retrieving candidates.")
    llm: float = Field(description="Milliseconds waiting for providers.")
    total: float = Field(description="Milliseconds from request to response.")


class ComparedAttribute(BaseModel):
    attribute: str
    values: dict[str, str | None] = Field(description="Product id -> the value as its data writes it (null: not stated).")


class ChatResponse(BaseModel):
    request_id: str
    session_id: str
    turn: int = Field(description="This turn's number in the conversation, from 1.")
    reply: str = Field(description="The assistant's answer to the message.")
    items: list[RecommendedItem] = Field(description="Products shown with this reply (same shape as /v1/recommend).")
    understood: dict[str, Any] = Field(description="The constraints now in force in this conversation.")
    question: Question | None = Field(None, description="A clarifying question, with answers to pick from.")
    comparison: list[ComparedAttribute] | None = Field(None, description="The products compared, from catalog data.")
    referred: list[str] = Field(default_factory=list, description="Ids of the shown products the message pointed at.")
    provider: str | None = Field(description="The provider that answered; null when none was asked or none answered.")
    model: str | None = None
    cached: bool = Field(False, description="Conversation turns are never answered from the cache.")
    degraded: bool = Field(description="True when no model answered and the reply comes from retrieval and data alone.")
    stateless: bool = Field(
        False, description="True when the turn is not remembered: the session store was unreachable (the turn "
        "was answered without the conversation's memory), or the conversation or its shopper was deleted while it ran."
    )
    prompt_version: str
    fallback_from: list[str] = Field(default_factory=list)
    invalid_ids_dropped: int = 0
    timings_ms: ChatTimings


class ChatTranscript(BaseModel):
    session_id: str
    turn: int
    created_at: float
    updated_at: float
    understood: dict[str, Any] = Field(description="The constraints in force.")
    shown: list[str] = Field(description="The products shown last, in order.")
    rejected: list[str] = Field(description="Products the shopper turned down (never shown again unless asked for).")
    transcript: list[Turn]
