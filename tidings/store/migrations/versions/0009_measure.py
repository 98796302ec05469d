"""analytics: step-to-step moves per day (the funnel per edge of a journey graph)

Revision ID: 0009_measure
Revises: 0008_scoring
Create Date: 2026-12-07 00:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009_measure'
down_revision = '0008_scoring'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('analytics_edges',
    sa.Column('id', BIG, autoincrement=True, nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('journey_id', BIG, nullable=False),
    sa.Column('journey_version', sa.Integer(), nullable=False),
    sa.Column('src', sa.String(length=100), nullable=False),
    sa.Column('dst', sa.String(length=100), nullable=False),
    sa.Column('moved', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_edges')),
    sa.UniqueConstraint('day', 'journey_id', 'journey_version', 'src', 'dst',
                        name=op.f('uq_analytics_edges_day_journey_id_journey_version_src_dst')),
    )
    with op.batch_alter_table('analytics_edges', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_edges_journey_id_day', ['journey_id', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_edges', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_edges_journey_id_day')
    op.drop_table('analytics_edges')
