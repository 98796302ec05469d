"""outbox.handed_off_at: the per-message hand-off record of the delivery loop

A row in ``sending`` whose sender died is ``uncertain`` only when this is set (the provider call
had started); otherwise it was merely claimed or rendered and goes back to ``pending``.

Revision ID: 0003
Revises: 0002_control
"""
from alembic import op
import sqlalchemy as sa
import tidings.store.types

revision = '0003'
down_revision = '0002_control'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_off_at', tidings.store.types.UTCDateTime(), nullable=True))
    # rows a running older version left rendered in `sending` may be mid-send: keep treating them
    # as handed off (they may become uncertain), never resend them blindly.
    op.execute(
        "UPDATE outbox SET handed_off_at = created_at WHERE status = 'sending' AND rendered IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('handed_off_at')
