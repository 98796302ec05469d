"""Ad audiences: the hashes last synced to each destination per segment (issue 17 item 7)

Revision ID: 0015_audiences
Revises: 0014_retention
"""
import sqlalchemy as sa
from alembic import op

from tidings.store.types import UTCDateTime

revision = '0015_audiences'
down_revision = '0014_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audience_synced",
        sa.Column("destination", sa.String(100), primary_key=True),
        sa.Column("segment_key", sa.String(100), primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("sent_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audience_synced")
