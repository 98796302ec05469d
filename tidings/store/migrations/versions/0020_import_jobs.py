"""import_jobs: the web import wizard's jobs (file, mapping, state, progress, error report)

Revision ID: 0020_import_jobs
Revises: 0019_content_plan
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import tidings.store.types

revision = '0020_import_jobs'
down_revision = '0019_content_plan'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
T = tidings.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('owner', BIG, nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('csv_text', sa.Text(), nullable=False),
        sa.Column('header', JSON, nullable=False),
        sa.Column('preview', JSON, nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('preset', sa.String(length=32), nullable=True),
        sa.Column('mapping', JSON, nullable=False),
        sa.Column('options', JSON, nullable=False),
        sa.Column('consent_source', sa.String(length=200), nullable=False),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('processed', sa.Integer(), nullable=False),
        sa.Column('counts', JSON, nullable=False),
        sa.Column('rejected', JSON, nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', T(), nullable=False),
        sa.Column('updated_at', T(), nullable=False),
        sa.Column('finished_at', T(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    op.create_index('ix_import_jobs_state_updated_at', 'import_jobs', ['state', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_import_jobs_state_updated_at', table_name='import_jobs')
    op.drop_table('import_jobs')
