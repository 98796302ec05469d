"""content_plan: the content plan (personas x stages x questions), its cells, template reviews

Revision ID: 0019_content_plan
Revises: 0018_sla
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import tidings.store.types

revision = '0019_content_plan'
down_revision = '0018_sla'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
T = tidings.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'content_plan',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('document', JSON, nullable=False),
        sa.Column('feed_version', sa.Integer(), nullable=False),
        sa.Column('updated_at', T(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_content_plan')),
    )
    op.create_table(
        'content_plan_cells',
        sa.Column('persona', sa.String(length=64), nullable=False),
        sa.Column('stage', sa.String(length=64), nullable=False),
        sa.Column('question', sa.String(length=64), nullable=False),
        sa.Column('templates', JSON, nullable=False),
        sa.Column('assets', JSON, nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('owner', sa.String(length=200), nullable=True),
        sa.Column('publish_on', sa.Date(), nullable=True),
        sa.Column('review_on', sa.Date(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('updated_at', T(), nullable=False),
        sa.PrimaryKeyConstraint('persona', 'stage', 'question', name=op.f('pk_content_plan_cells')),
    )
    op.create_table(
        'template_reviews',
        sa.Column('template_key', sa.String(length=200), nullable=False),
        sa.Column('reviewed_at', T(), nullable=False),
        sa.Column('reviewed_by', sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint('template_key', name=op.f('pk_template_reviews')),
    )


def downgrade() -> None:
    op.drop_table('template_reviews')
    op.drop_table('content_plan_cells')
    op.drop_table('content_plan')
