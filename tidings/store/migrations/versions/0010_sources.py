"""vendor sources: connected shops / payment providers (signing secrets) and the checkouts
watched for abandonment

Revision ID: 0010_sources
Revises: 0009_measure
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import tidings.store.types

revision = '0010_sources'
down_revision = '0009_measure'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'sources',
        sa.Column('id', BIG, autoincrement=True, nullable=False),
        sa.Column('vendor', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('secret', sa.String(length=500), nullable=False),
        sa.Column('abandon_after_seconds', sa.Integer(), nullable=False),
        sa.Column('created_at', tidings.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
        sa.UniqueConstraint('vendor', 'name', name=op.f('uq_sources_vendor_name')),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'source_checkouts',
        sa.Column('id', BIG, autoincrement=True, nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('checkout_id', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('properties', JSON, nullable=False),
        sa.Column('seen_at', tidings.store.types.UTCDateTime(), nullable=False),
        sa.Column('abandon_at', tidings.store.types.UTCDateTime(), nullable=False),
        sa.Column('completed_at', tidings.store.types.UTCDateTime(), nullable=True),
        sa.Column('abandoned_at', tidings.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_source_checkouts_source_id_sources'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_source_checkouts')),
        sa.UniqueConstraint('source_id', 'checkout_id', name=op.f('uq_source_checkouts_source_id_checkout_id')),
    )
    op.create_index(op.f('ix_source_checkouts_abandon_at'), 'source_checkouts', ['abandon_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_source_checkouts_abandon_at'), table_name='source_checkouts')
    op.drop_table('source_checkouts')
    op.drop_table('sources')
