"""campaigns: one-off sends to a segment, and their frozen audiences

Revision ID: 0012_campaigns
Revises: 0011_contactsui
Create Date: 2026-12-07 00:50:00
"""
from alembic import op
import sqlalchemy as sa
import tidings.store.types
from sqlalchemy.dialects import postgresql

revision = '0012_campaigns'
down_revision = '0011_contactsui'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = tidings.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', BIG, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('segment', sa.String(length=100), nullable=False),
    sa.Column('template', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('subjects', JSON, nullable=False),
    sa.Column('schedule', JSON, nullable=False),
    sa.Column('throttle', JSON, nullable=True),
    sa.Column('ab', JSON, nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('audience_count', sa.Integer(), nullable=True),
    sa.Column('approved_by', sa.String(length=320), nullable=True),
    sa.Column('approved_at', UTC(), nullable=True),
    sa.Column('start_at', UTC(), nullable=True),
    sa.Column('started_at', UTC(), nullable=True),
    sa.Column('finished_at', UTC(), nullable=True),
    sa.Column('cancelled_at', UTC(), nullable=True),
    sa.Column('winner_due_at', UTC(), nullable=True),
    sa.Column('winner', sa.String(length=10), nullable=True),
    sa.Column('winner_verdict', sa.Text(), nullable=True),
    sa.Column('winner_detail', JSON, nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=True),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('updated_at', UTC(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('key', name=op.f('uq_campaigns_key')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_status_start_at', ['status', 'start_at'], unique=False)

    op.create_table('campaign_recipients',
    sa.Column('campaign_id', BIG, nullable=False),
    sa.Column('contact_id', BIG, nullable=False),
    sa.Column('variant', sa.String(length=10), nullable=True),
    sa.Column('send_at', UTC(), nullable=True),
    sa.Column('outbox_id', BIG, nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_recipients_campaign_id_campaigns'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'contact_id', name=op.f('pk_campaign_recipients')),
    )
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_recipients_campaign_id_outbox_id_send_at',
                              ['campaign_id', 'outbox_id', 'send_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_recipients_campaign_id_outbox_id_send_at')
    op.drop_table('campaign_recipients')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_status_start_at')
    op.drop_table('campaigns')
