"""Full-text search over contacts (name, email, phone, external id, attributes)

SQLite: an FTS5 table with the trigram tokenizer (substring matches), filled from the contacts
and kept equal to them by three triggers. PostgreSQL: the ``pg_trgm`` extension (created if
missing, in ``public`` unless it is installed elsewhere) and a GIN trigram index on the
searchable text, the expression ``store/contact_search_sql.PG_DOC`` queries.

Revision ID: 0011_contactsui
Revises: 0010_sources
"""
from alembic import op

from tidings.store.contact_search_sql import PG_DOC, SQLITE_DDL, SQLITE_DROP

revision = '0011_contactsui'
down_revision = '0010_sources'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            op.execute(statement)
        return
    found = bind.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).scalar()
    if found is None:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        found = "public"
    op.execute(f"CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (({PG_DOC}) {found}.gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
