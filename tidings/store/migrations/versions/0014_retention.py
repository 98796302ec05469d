"""Retention: the log of retention runs (issue 17 item 6)

The policy is an ``app_state`` row; this table holds one row per run or dry run.

Revision ID: 0014_retention
Revises: 0013_i18n
"""
import sqlalchemy as sa
from alembic import op

from tidings.store.types import BigId, JSONDoc, UTCDateTime

revision = '0014_retention'
down_revision = '0013_i18n'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_runs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("policy", JSONDoc, nullable=False),
        sa.Column("counts", JSONDoc, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_retention_runs_started_at", "retention_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_retention_runs_started_at", table_name="retention_runs")
    op.drop_table("retention_runs")
