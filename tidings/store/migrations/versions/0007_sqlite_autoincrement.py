"""SQLite: ids of deleted contacts, segments and templates are never given again (AUTOINCREMENT)

Without AUTOINCREMENT SQLite hands out max(id) + 1, so deleting the newest contact gives its
id to the next one, and events, merge audits, traces and messages that name the old id would
name the new contact. Batch mode recreates each table with AUTOINCREMENT (data, indexes and
constraints copied; the optional rule indexes on ``contacts`` are rebuilt by the segment
refresher) and seeds ``sqlite_sequence`` with the highest id present. PostgreSQL identities
never reuse a value: nothing to do there.

Revision ID: 0007_sqlite_autoincrement
Revises: 0006_browser_keys
"""
from alembic import op

revision = '0007_sqlite_autoincrement'
down_revision = '0006_browser_keys'
branch_labels = None
depends_on = None

TABLES = ("contacts", "segments", "templates")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
