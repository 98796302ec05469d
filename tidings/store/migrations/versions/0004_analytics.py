"""analytics: daily engagement rollups and first open/click markers

Revision ID: 0004_analytics
Revises: 0003
Create Date: 2026-12-06 21:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_analytics'
down_revision = '0003'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
METRICS = (
    "sent", "delivered", "bounced_hard", "bounced_soft", "opened_human", "opened_human_unique",
    "opened_machine", "opened_machine_unique", "clicked", "clicked_unique", "clicked_machine",
    "unsubscribed", "complained", "converted", "revenue",
)


def upgrade() -> None:
    op.create_table('analytics_daily',
    sa.Column('id', BIG, autoincrement=True, nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('journey_id', BIG, server_default='0', nullable=False),
    sa.Column('journey_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('step', sa.String(length=100), server_default='', nullable=False),
    sa.Column('template', sa.String(length=200), server_default='', nullable=False),
    sa.Column('channel', sa.String(length=30), server_default='', nullable=False),
    sa.Column('campaign', sa.String(length=100), server_default='', nullable=False),
    *(
        sa.Column(m, sa.Float() if m == 'revenue' else sa.BigInteger(), server_default='0', nullable=False)
        for m in METRICS
    ),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_daily')),
    sa.UniqueConstraint('day', 'journey_id', 'journey_version', 'step', 'template', 'channel', 'campaign',
                        name=op.f('uq_analytics_daily_day_journey_id_journey_version_step_template_channel_campaign')),
    )
    with op.batch_alter_table('analytics_daily', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_daily_journey_id_day', ['journey_id', 'day'], unique=False)
        batch_op.create_index('ix_analytics_daily_template_day', ['template', 'day'], unique=False)
        batch_op.create_index('ix_analytics_daily_channel_day', ['channel', 'day'], unique=False)
        batch_op.create_index('ix_analytics_daily_campaign_day', ['campaign', 'day'], unique=False)

    op.create_table('analytics_firsts',
    sa.Column('message_id', BIG, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('message_id', 'kind', name=op.f('pk_analytics_firsts')),
    )


def downgrade() -> None:
    op.drop_table('analytics_firsts')
    with op.batch_alter_table('analytics_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_daily_campaign_day')
        batch_op.drop_index('ix_analytics_daily_channel_day')
        batch_op.drop_index('ix_analytics_daily_template_day')
        batch_op.drop_index('ix_analytics_daily_journey_id_day')
    op.drop_table('analytics_daily')
