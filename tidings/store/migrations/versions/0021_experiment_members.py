"""experiment_members: the control group recorded at entry (journey_entrants, analytics_groups) and
one row per contact through an experiment's split (experiment_members); filled for old data by
``tidings analytics backfill``

Revision ID: 0021_experiment_members
Revises: 0020_import_jobs
"""
from alembic import op
import sqlalchemy as sa

from tidings.store.types import UTCDateTime

revision = '0021_experiment_members'
down_revision = '0020_import_jobs'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'journey_entrants',
        sa.Column('journey_id', BIG, nullable=False),
        sa.Column('contact_id', BIG, nullable=False),
        sa.Column('journey_version', sa.Integer(), nullable=False),
        sa.Column('held_out', sa.Boolean(), nullable=False),
        sa.Column('entered_at', UTCDateTime(), nullable=False),
        sa.Column('converted_at', UTCDateTime(), nullable=True),
        sa.Column('revenue', sa.Float(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('journey_id', 'contact_id', name=op.f('pk_journey_entrants')),
    )
    op.create_table(
        'analytics_groups',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('journey_id', BIG, nullable=False),
        sa.Column('journey_version', sa.Integer(), nullable=False),
        sa.Column('held_out', sa.Boolean(), nullable=False),
        sa.Column('entrants', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('converted', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('revenue', sa.Float(), server_default='0', nullable=False),
        sa.Column('revenue_sq', sa.Float(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('journey_id', 'day', 'journey_version', 'held_out', name=op.f('pk_analytics_groups')),
    )
    op.create_table(
        'experiment_members',
        sa.Column('journey_id', BIG, nullable=False),
        sa.Column('step_id', sa.String(length=100), nullable=False),
        sa.Column('contact_id', BIG, nullable=False),
        sa.Column('variant', sa.String(length=200), nullable=False),
        sa.Column('entered_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('journey_id', 'step_id', 'contact_id', name=op.f('pk_experiment_members')),
    )
    op.create_index(
        op.f('ix_experiment_members_journey_id_step_id_variant_entered_at'),
        'experiment_members',
        ['journey_id', 'step_id', 'variant', 'entered_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_experiment_members_journey_id_step_id_variant_entered_at'), table_name='experiment_members')
    op.drop_table('experiment_members')
    op.drop_table('analytics_groups')
    op.drop_table('journey_entrants')
