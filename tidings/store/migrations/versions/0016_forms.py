"""forms: form definitions and their submissions (consent proof, double opt-in state)

Revision ID: 0016_forms
Revises: 0015_audiences
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import tidings.store.types

revision = '0016_forms'
down_revision = '0015_audiences'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
T = tidings.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'forms',
        sa.Column('id', BIG, autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('definition', JSON, nullable=False),
        sa.Column('created_at', T(), nullable=False),
        sa.Column('updated_at', T(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
        sa.UniqueConstraint('key', name=op.f('uq_forms_key')),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'form_submissions',
        sa.Column('id', BIG, autoincrement=True, nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=False),
        sa.Column('contact_id', sa.BigInteger(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('nonce', sa.BigInteger(), nullable=False),
        sa.Column('submitted_at', T(), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('user_agent', sa.String(length=500), nullable=False),
        sa.Column('page_url', sa.String(length=2000), nullable=False),
        sa.Column('consents', JSON, nullable=False),
        sa.Column('data', JSON, nullable=False),
        sa.Column('remind_at', T(), nullable=True),
        sa.Column('expires_at', T(), nullable=True),
        sa.Column('reminded_at', T(), nullable=True),
        sa.Column('confirmed_at', T(), nullable=True),
        sa.Column('confirmation_sent_at', T(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_form_submissions')),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_form_submissions_form_key'), 'form_submissions', ['form_key'])
    op.create_index(op.f('ix_form_submissions_contact_id'), 'form_submissions', ['contact_id'])
    op.create_index('ix_form_submissions_status_expires_at', 'form_submissions', ['status', 'expires_at'])


def downgrade() -> None:
    op.drop_index('ix_form_submissions_status_expires_at', table_name='form_submissions')
    op.drop_index(op.f('ix_form_submissions_contact_id'), table_name='form_submissions')
    op.drop_index(op.f('ix_form_submissions_form_key'), table_name='form_submissions')
    op.drop_table('form_submissions')
    op.drop_table('forms')
