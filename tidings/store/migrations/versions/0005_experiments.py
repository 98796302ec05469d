"""measurement: experiment decisions, marketing goals, journey economics

Revision ID: 0005_experiments
Revises: 0004_analytics
Create Date: 2026-12-06 21:45:00
"""
from alembic import op
import sqlalchemy as sa
import tidings.store.types
from sqlalchemy.dialects import postgresql

revision = '0005_experiments'
down_revision = '0004_analytics'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('experiment_decisions',
    sa.Column('key', sa.String(length=201), nullable=False),
    sa.Column('journey_id', BIG, nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('winner', sa.String(length=200), nullable=False),
    sa.Column('verdict', sa.Text(), nullable=False),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('decided_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=320), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_experiment_decisions'))
    )
    with op.batch_alter_table('experiment_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_decisions_journey_id', ['journey_id'], unique=False)

    op.create_table('marketing_goals',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('document', JSON, nullable=False),
    sa.Column('created_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_marketing_goals'))
    )
    op.create_table('journey_economics',
    sa.Column('journey_key', sa.String(length=100), nullable=False),
    sa.Column('inputs', JSON, nullable=False),
    sa.Column('updated_at', tidings.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('journey_key', name=op.f('pk_journey_economics'))
    )


def downgrade() -> None:
    op.drop_table('journey_economics')
    op.drop_table('marketing_goals')
    with op.batch_alter_table('experiment_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_decisions_journey_id')
    op.drop_table('experiment_decisions')
