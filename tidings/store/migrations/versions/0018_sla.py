"""sla: tasks escalated once past their team's SLA (escalated_at, escalated_to); open tasks by due time

Revision ID: 0018_sla
Revises: 0017_stage_moves
"""
from alembic import op
import sqlalchemy as sa

from tidings.store.types import UTCDateTime

revision = '0018_sla'
down_revision = '0017_stage_moves'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('escalated_at', UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('escalated_to', sa.String(length=320), nullable=True))
    op.create_index('ix_tasks_status_due_at', 'tasks', ['status', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_tasks_status_due_at', table_name='tasks')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('escalated_to')
        batch.drop_column('escalated_at')
