"""The tables: one row per product's reviewed copy (optimistically versioned) and every version of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CopyEntry(Base):
    """A product's reviewed copy: its state and the version a reviewer last decided on.

    ``row_version`` is the optimistic lock: every decision names the version it
    was made on and succeeds only if nobody decided in between.
    """

    __tablename__ = "copy_entries"
    __table_args__ = (Index("ix_copy_entries_status", "status", "updated_at"),)

    product_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # approved | rejected
    current_version: Mapped[int] = mapped_column(Integer)
    row_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))


class CopyVersion(Base):
    """One decided version of a product's copy: text, who, when, where it came from, what the checks found."""

    __tablename__ = "copy_versions"
    __table_args__ = (Index("ix_copy_versions_product", "product_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("copy_entries.product_id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    headline: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    bullets: Mapped[list[str]] = mapped_column(JSON)
    cta: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(32), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    product: Mapped[dict[str, Any]] = mapped_column(JSON)  # title, brand, category, tags when decided (for export)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    edited: Mapped[bool] = mapped_column(Boolean)
    override: Mapped[bool] = mapped_column(Boolean)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
