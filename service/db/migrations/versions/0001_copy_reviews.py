"""copy reviews: entries (optimistically versioned) and their version history

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "copy_entries",
        sa.Column("product_id", sa.String(256), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "copy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "product_id", sa.String(256), sa.ForeignKey("copy_entries.product_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("bullets", sa.JSON, nullable=False),
        sa.Column("cta", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(32)),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("product", sa.JSON, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("edited", sa.Boolean, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("override_reason", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("prompt_version", sa.String(64)),
        sa.Column("provider", sa.String(128)),
        sa.Column("model", sa.String(256)),
        sa.Column("job_id", sa.String(64)),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_copy_versions_product", "copy_versions", ["product_id", "number"], unique=True)
    op.create_index("ix_copy_entries_status", "copy_entries", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_copy_entries_status", "copy_entries")
    op.drop_index("ix_copy_versions_product", "copy_versions")
    op.drop_table("copy_versions")
    op.drop_table("copy_entries")
