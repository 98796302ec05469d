"""Users: the web UI's language and time zone (issue 16 item 8)

Both nullable: None means the browser's Accept-Language and UTC.

Revision ID: 0013_i18n
Revises: 0012_campaigns
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_i18n'
down_revision = '0012_campaigns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(20), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
        batch.drop_column("locale")
