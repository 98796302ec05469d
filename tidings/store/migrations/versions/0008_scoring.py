"""lead scoring: models and their versions, contact scores with their state, score history

Revision ID: 0008_scoring
Revises: 0007_sqlite_autoincrement
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_scoring'
down_revision = '0007_sqlite_autoincrement'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'scoring_models',
        sa.Column('id', ID, primary_key=True, autoincrement=True),
        sa.Column('key', sa.String(100), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_scoring_models'),
        sa.UniqueConstraint('key', name='uq_scoring_models_key'),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'scoring_model_versions',
        sa.Column('model_id', ID, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('document', sa.Text(), nullable=False),
        sa.Column('published_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('model_id', 'version', name='pk_scoring_model_versions'),
    )
    op.create_table(
        'contact_scores',
        sa.Column('contact_id', ID, nullable=False),
        sa.Column('model_id', ID, nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('profile', sa.Float(), nullable=False),
        sa.Column('stage', sa.String(64), nullable=True),
        sa.Column('state', JSON, nullable=False),
        sa.Column('behaviour', sa.Float(), nullable=False),
        sa.Column('behaviour_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('contact_id', 'model_id', name='pk_contact_scores'),
    )
    op.create_index('ix_contact_scores_model_id_score', 'contact_scores', ['model_id', 'score'])
    op.create_table(
        'score_history',
        sa.Column('id', ID, primary_key=True, autoincrement=True),
        sa.Column('contact_id', ID, nullable=False),
        sa.Column('model_id', ID, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('delta', sa.Float(), nullable=False),
        sa.Column('stage', sa.String(64), nullable=True),
        sa.Column('reason', JSON, nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_score_history'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_score_history_contact_id_model_id_at', 'score_history', ['contact_id', 'model_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_score_history_contact_id_model_id_at', table_name='score_history')
    op.drop_table('score_history')
    op.drop_index('ix_contact_scores_model_id_score', table_name='contact_scores')
    op.drop_table('contact_scores')
    op.drop_table('scoring_model_versions')
    op.drop_table('scoring_models')
