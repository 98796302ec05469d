"""citus: on a Citus coordinator, distribute the contact-keyed tables by ``contact_id`` (one
co-location group) and make the definitions reference tables; nothing on SQLite or plain
PostgreSQL (docs/scale-out.md, "Citus")

Citus requires a primary key / unique constraint of a distributed table to include the
distribution column, so each such key that lacks ``contact_id`` gets it appended (``events``:
``(id, occurred_at)`` -> ``(id, occurred_at, contact_id)``; the store's inserts use a
target-less ``ON CONFLICT DO NOTHING`` that works with either form). ``events`` and ``traces`` are
partitioned by month (0022_partitions): Citus distributes the parent with its partitions, and a
partition created later (store/partitions.py) is distributed with them. Tables keyed by something else stay
ordinary tables on the coordinator (the lists below say why).

Revision ID: 0023_citus
Revises: 0022_partitions
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0023_citus'
down_revision = '0022_partitions'
branch_labels = None
depends_on = None

#: the co-location group's first table, distributed by its ``id``; every other distributed table
#: is distributed by ``contact_id`` and co-located with it.
ANCHOR = 'contacts'

#: contacts' unique identifiers: Citus cannot enforce them across shards, so they become plain
#: indexes and the store serialises contact creation on Citus instead
#: (``store/upsert.py``, ``insert_new_contacts``: a transaction advisory lock, then a fresh lookup).
CONTACT_KEYS = ('email', 'phone', 'external_id')

#: distributed by contact_id, co-located with ANCHOR: a contact's rows sit on one shard, so the
#: per-contact reads and writes of ingest, the worker and delivery are single-shard and the
#: segment queries' joins between them are pushed down to the workers.
DISTRIBUTED = (
    'contacts', 'events', 'traces', 'outbox', 'enrollments', 'enrollment_causes', 'segment_memberships',
    'consents', 'contact_tags', 'contact_scores', 'score_history', 'tasks', 'form_submissions',
    'dead_letters', 'experiment_members', 'journey_entrants', 'campaign_recipients',
)

#: small definitions read by every shard's joins: one copy on every node.
REFERENCE = (
    'journeys', 'journey_versions', 'templates', 'segments', 'campaigns', 'scoring_models',
    'scoring_model_versions', 'forms', 'sending_domains', 'content_plan', 'content_plan_cells',
    'template_reviews', 'marketing_goals', 'journey_economics', 'experiment_decisions',
)

#: stay ordinary tables on the coordinator, with their global keys:
#: - event_receipts: keyed by message_id (ingest's idempotency, unique across all contacts), so
#:   it cannot be co-located; it stays on the coordinator and on Citus ingest writes it in its own
#:   statement before the events (store/ingest_sql.py).
#: - contact_aliases: keyed by (kind, value), unique across all contacts (identity resolution
#:   relies on it); small, read by key.
#: - contact_queue, timers: claimed with FOR UPDATE SKIP LOCKED across all contacts, which Citus
#:   runs only on single-shard queries.
#: - alerts, feedback: contact_id is nullable (a bounce for an unknown address).
#: - access (api_keys, users, web_sessions, login_throttle), app_state, inbox, import_jobs,
#:   retention_runs, audience_synced, suppressions, sources, source_checkouts, the analytics
#:   rollups (analytics_daily, analytics_edges, analytics_firsts, analytics_groups), stage_moves:
#:   keyed by something else, small, or upserted on their own keys.
LOCAL = (
    'event_receipts', 'contact_aliases', 'contact_queue', 'timers', 'alerts', 'feedback', 'api_keys',
    'users', 'web_sessions', 'login_throttle', 'app_state', 'inbox', 'import_jobs',
    'retention_runs', 'audience_synced', 'suppressions', 'sources', 'source_checkouts',
    'analytics_daily', 'analytics_edges', 'analytics_firsts', 'analytics_groups', 'stage_moves',
)


def citus_installed(conn: sa.Connection) -> bool:
    if conn.dialect.name != 'postgresql':
        return False
    return conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'").first() is not None


def _keys_without_contact_id(conn: sa.Connection, table: str) -> list[tuple[str, str, list[str]]]:
    """(constraint name, 'p' | 'u', columns) of each PK / UNIQUE of ``table`` lacking contact_id."""
    rows = conn.exec_driver_sql(
        """
        SELECT c.conname, c.contype,
               array_agg(a.attname::text ORDER BY k.ord) AS cols
        FROM pg_constraint c
        JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
        WHERE c.conrelid = to_regclass(%(t)s) AND c.contype IN ('p', 'u')
        GROUP BY c.conname, c.contype
        """,
        {'t': table},
    ).all()
    return [(name, kind, list(cols)) for name, kind, cols in rows if 'contact_id' not in cols]


def _include_contact_id(conn: sa.Connection, table: str) -> None:
    for name, kind, cols in _keys_without_contact_id(conn, table):
        key = 'PRIMARY KEY' if kind == 'p' else 'UNIQUE'
        columns = ', '.join(f'"{c}"' for c in [*cols, 'contact_id'])
        conn.exec_driver_sql(
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", ADD CONSTRAINT "{name}" {key} ({columns})'
        )


def _contact_keys_to_indexes(conn: sa.Connection) -> None:
    for name, kind, cols in _keys_without_contact_id(conn, 'contacts'):
        if kind == 'p':
            continue  # (id): the distribution column itself
        assert len(cols) == 1 and cols[0] in CONTACT_KEYS, (name, cols)
        conn.exec_driver_sql(f'ALTER TABLE contacts DROP CONSTRAINT "{name}"')
        conn.exec_driver_sql(f'CREATE INDEX "ix_contacts_{cols[0]}" ON contacts ("{cols[0]}")')


def upgrade() -> None:
    conn = op.get_bind()
    if not citus_installed(conn):
        return
    if conn.exec_driver_sql("SHOW citus.enable_schema_based_sharding").scalar() == 'on':
        raise RuntimeError('citus.enable_schema_based_sharding must be off: Tidings distributes its tables by contact_id')
    # DDL on several distributed tables in one transaction: one connection per node
    conn.exec_driver_sql("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    for table in REFERENCE:
        conn.exec_driver_sql("SELECT create_reference_table(%(t)s)", {'t': table})
    _contact_keys_to_indexes(conn)
    conn.exec_driver_sql("SELECT create_distributed_table('contacts', 'id', colocate_with => 'none')")
    for table in DISTRIBUTED:
        if table == ANCHOR:
            continue
        _include_contact_id(conn, table)
        conn.exec_driver_sql(
            "SELECT create_distributed_table(%(t)s, 'contact_id', colocate_with => %(c)s)",
            {'t': table, 'c': ANCHOR},
        )
    for table in (*REFERENCE, *DISTRIBUTED):  # rows copied to the shards: drop the local copies
        conn.exec_driver_sql("SELECT truncate_local_data_after_distributing_table(%(t)s)", {'t': table})


def downgrade() -> None:
    if citus_installed(op.get_bind()):
        raise RuntimeError(
            'leaving Citus is not a downgrade: restore a pg_dump of the coordinator into plain '
            'PostgreSQL (docs/scale-out.md, "Citus")'
        )
