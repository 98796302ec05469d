"""control: enrolment causes (loop breaker) and alerts

Revision ID: 0002_control
Revises: 0001
Create Date: 2026-12-06 21:00:00
"""
from alembic import op
import sqlalchemy as sa
import tidings.store.types
from sqlalchemy.dialects import postgresql

revision = '0002_control'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('enrollment_causes',
    sa.Column('enrollment_id', BIG, nullable=False),
    sa.Column('contact_id', BIG, nullable=False),
    sa.Column('journey_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=400), nullable=True),
    sa.Column('parent_enrollment_id', BIG, nullable=True),
    sa.Column('chain', JSON, nullable=False),
    sa.Column('created_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('enrollment_id', name=op.f('pk_enrollment_causes'))
    )
    with op.batch_alter_table('enrollment_causes', schema=None) as batch_op:
        batch_op.create_index('ix_enrollment_causes_kind_value', ['kind', 'value'], unique=False)
        batch_op.create_index('ix_enrollment_causes_parent_enrollment_id', ['parent_enrollment_id'], unique=False)
        batch_op.create_index('ix_enrollment_causes_contact_id', ['contact_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', BIG, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('fingerprint', sa.String(length=400), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('count', sa.Integer(), server_default='1', nullable=False),
    sa.Column('contact_id', BIG, nullable=True),
    sa.Column('created_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.Column('last_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', tidings.store.types.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=320), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_fingerprint_acknowledged_at', ['fingerprint', 'acknowledged_at'], unique=False)


def downgrade() -> None:
    op.drop_table('alerts')
    op.drop_table('enrollment_causes')
