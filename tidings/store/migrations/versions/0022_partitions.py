"""partitions: ``event_receipts`` (idempotency on message_id, both databases, filled from the
events in place); on PostgreSQL ``events`` and ``traces`` become ``PARTITION BY RANGE`` on their
time column, one partition per month plus a DEFAULT one (store/partitions.py), rows kept

Revision ID: 0022_partitions
Revises: 0021_experiment_members
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

from tidings.store import partitions
from tidings.store.types import UTCDateTime

revision = '0022_partitions'
down_revision = '0021_experiment_members'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
#: the constraints the plain tables had (their indexes are not replayed as indexes)
_CONSTRAINTS = {'events': ('pk_events', 'uq_events_message_id'), 'traces': ('pk_traces',)}


def upgrade() -> None:
    op.create_table(
        'event_receipts',
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('event_id', BIG, nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('message_id', name=op.f('pk_event_receipts')),
    )
    op.create_index('ix_event_receipts_received_at', 'event_receipts', ['received_at'], unique=False)
    op.execute(
        'INSERT INTO event_receipts (message_id, event_id, received_at)'
        ' SELECT message_id, min(id), min(received_at) FROM events WHERE message_id IS NOT NULL GROUP BY message_id'
    )
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    for table, key in partitions.PARTITION_KEYS.items():
        _rebuild(conn, table, f'PARTITION BY RANGE ({key})', primary_key=f'id, {key}', partitioned=True)
    partitions.ensure_partitions(conn, datetime.now(UTC))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        for table in partitions.PARTITION_KEYS:
            _rebuild(conn, table, '', primary_key='id', partitioned=False)
        conn.exec_driver_sql('ALTER TABLE events ADD CONSTRAINT uq_events_message_id UNIQUE (message_id)')
    op.drop_index('ix_event_receipts_received_at', table_name='event_receipts')
    op.drop_table('event_receipts')


def _rebuild(conn: sa.Connection, table: str, partition_by: str, *, primary_key: str, partitioned: bool) -> None:
    """Copy ``table`` into a new table of the other kind and swap names: the same columns and
    defaults (the id sequence moves over), every secondary index replayed (the rule indexes
    too), the primary key ``primary_key``; when partitioned, one partition per month that holds
    rows and a DEFAULT partition."""
    key = partitions.PARTITION_KEYS[table]
    indexdefs = [
        d
        for name, d in conn.execute(
            sa.text('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()'
                    ' AND tablename = :t'),
            {'t': table},
        ).all()
        if name not in _CONSTRAINTS[table]
    ]
    seq = conn.execute(sa.text('SELECT pg_get_serial_sequence(:t, :c)'), {'t': table, 'c': 'id'}).scalar_one()
    new = f'{table}_rebuilt'
    conn.exec_driver_sql(f'CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS) {partition_by}')
    if partitioned:
        months = conn.execute(
            sa.text(f"SELECT DISTINCT date_trunc('month', {key}) FROM {table} WHERE {key} < :limit"),
            {'limit': datetime(9000, 1, 1)},
        ).scalars()
        for m in sorted(months):
            bounds = (partitions.month_start(m.year, m.month), partitions.month_start(*partitions.next_month(m.year, m.month)))
            conn.exec_driver_sql(
                f'CREATE TABLE {partitions.month_name(table, m.year, m.month)} PARTITION OF {new}'
                f" FOR VALUES FROM ('{bounds[0].isoformat(sep=' ')}') TO ('{bounds[1].isoformat(sep=' ')}')"
            )
        conn.exec_driver_sql(f'CREATE TABLE {partitions.default_name(table)} PARTITION OF {new} DEFAULT')
    conn.exec_driver_sql(f'INSERT INTO {new} SELECT * FROM {table}')
    conn.exec_driver_sql(f'ALTER SEQUENCE {seq} OWNED BY {new}.id')
    conn.exec_driver_sql(f'DROP TABLE {table}')
    conn.exec_driver_sql(f'ALTER TABLE {new} RENAME TO {table}')
    conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({primary_key})')
    for d in indexdefs:
        conn.exec_driver_sql(d)
    conn.exec_driver_sql(f'ANALYZE {table}')
