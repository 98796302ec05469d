"""stage_moves: the scoring stage funnel over time (contacts moved per day, stage to stage)

Revision ID: 0017_stage_moves
Revises: 0016_forms
"""
from alembic import op
import sqlalchemy as sa

revision = '0017_stage_moves'
down_revision = '0016_forms'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'stage_moves',
        sa.Column('model_id', BIG, nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('from_stage', sa.String(length=64), nullable=False),
        sa.Column('to_stage', sa.String(length=64), nullable=False),
        sa.Column('direction', sa.String(length=4), nullable=False),
        sa.Column('moved', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('model_id', 'day', 'from_stage', 'to_stage', 'direction', name=op.f('pk_stage_moves')),
    )


def downgrade() -> None:
    op.drop_table('stage_moves')
