"""Optional indexes that make saved rules fast, created after a segment is saved.

Rules name things that have no fixed index: custom attributes (JSON paths in
``contacts.attributes``) and event properties (``message.opened(template="t3")``). After a
segment is saved, the worker's segment refresher (``sync_rule_indexes``, never the request that
saved it: an index on a big table takes a while) creates the indexes its conditions need, on
exactly the expressions ``rules_sql.compile_rule`` emits, and drops those that no saved segment
needs any more. Until then a rule runs without them: slower, never wrong.

- ``ix_contacts_attr_*`` (``attribute_indexes``): expression indexes on ``contacts`` that the
  planners pick up by themselves.
- ``ix_events_prop_*`` (``event_property_indexes``): partial indexes on ``events`` for one event
  name, on (property expressions, occurred_at, contact_id, value). The compiler names them with
  ``INDEXED BY`` on SQLite when ``existing_rule_indexes`` says they exist.

Names are derived from the expressions, so ``CREATE INDEX IF NOT EXISTS`` is idempotent and
segments sharing a condition share its index. On PostgreSQL they are built and dropped
``CONCURRENTLY`` (the tables stay writable). ``events`` is partitioned by month there
(store/partitions.py), and a partitioned table refuses ``CONCURRENTLY``: the index is declared on
the parent alone (``ON ONLY``, invalid until complete), built ``CONCURRENTLY`` on each partition
and attached to it; once every partition's is attached the parent's is valid, and partitions made
later get it by themselves. Dropping a partitioned index is a plain ``DROP INDEX``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from tidings.domain.rules.ast import All, Attr, Compare, EventAgg, Not, Rule
from tidings.store import partitions
from tidings.store.rules_sql import (
    EVENT_INDEX_PREFIX,
    compile_rule,
    event_index_name,
    indexable_event_props,
    tune_connection,
)
from tidings.store.rules_sql_values import inlinable_path, json_index_expression

log = logging.getLogger(__name__)

#: attribute comparisons an expression index can serve
_EQ_OPS = ("eq", "in")
_RANGE_OPS = ("gt", "gte", "lt", "lte", "between")
ATTRIBUTE_INDEX_PREFIX = "ix_contacts_attr_"
#: every index this module creates, and may drop, is named with one of these
RULE_INDEX_PREFIXES = (ATTRIBUTE_INDEX_PREFIX, EVENT_INDEX_PREFIX)


def attribute_indexes(rule: Rule, dialect_name: str) -> list[sa.Index]:
    """Expression indexes on ``contacts`` that let ``compile_rule`` seek the rule's attribute
    conditions instead of parsing every contact's JSON: on the exact expressions it emits.

    SQLite: for each ``all`` with attribute conditions, one index on its equality paths then
    (at most) one range path (index-only: ``plan == "pro" and age >= 30`` is one range of
    it); plus one index per other path. PostgreSQL: one index per equality path
    (``jsonb_extract_path(attributes, 'plan')``; its range comparisons are typed CASE
    expressions, not indexed). Names are derived from the expressions: ``CREATE INDEX IF NOT
    EXISTS`` is idempotent and segments sharing paths share indexes. Paths are NAME-pattern
    checked (the parser's; rechecked before inlining).
    """
    if dialect_name not in ("sqlite", "postgresql"):
        return []
    pg = dialect_name == "postgresql"
    groups: list[tuple[tuple[str, ...], ...]] = []
    singles: list[tuple[str, ...]] = []

    def attr_ops(items: Any) -> list[tuple[tuple[str, ...], str]]:
        out = []
        for r in items:
            if (
                isinstance(r, Compare)
                and isinstance(r.target, Attr)
                and inlinable_path(r.target.path)
                and (r.op in _EQ_OPS or (not pg and r.op in _RANGE_OPS))
            ):
                out.append((r.target.path, r.op))
        return out

    def walk(r: Rule) -> None:
        if isinstance(r, All):
            found = attr_ops(r.items)
            eq = sorted({p for p, op in found if op in _EQ_OPS})
            rng = sorted({p for p, op in found if op in _RANGE_OPS} - set(eq))
            if not pg and len(eq) + len(rng) > 1:
                groups.append(tuple(eq + rng[:1]))
            else:
                singles.extend(eq + rng)
        elif isinstance(r, Compare):
            singles.extend(p for p, _ in attr_ops([r]))
        for sub in getattr(r, "items", ()) or ((r.item,) if isinstance(r, Not) else ()):
            if isinstance(r, All) and isinstance(sub, Compare):
                continue  # counted with its group
            walk(sub)

    walk(rule)
    covered = {g[0] for g in groups}
    keys = list(dict.fromkeys([*groups, *((p,) for p in singles if p not in covered)]))
    table = sa.Table("contacts", sa.MetaData(), sa.Column("attributes", JSONB if pg else sa.Text))
    out = []
    for paths in keys:
        exprs = [json_index_expression(table.c.attributes, p, dialect_name) for p in paths]
        label = "__".join(".".join(p) for p in paths)
        digest = hashlib.sha256(f"{dialect_name}:{label}".encode()).hexdigest()[:10]
        name = f"{ATTRIBUTE_INDEX_PREFIX}{'_'.join('_'.join(p) for p in paths)[:30]}_{digest}"
        out.append(sa.Index(name, *exprs))
    return out


def event_property_indexes(rule: Rule, dialect_name: str) -> list[sa.Index]:
    """Partial indexes on ``events`` for the rule's event conditions with property filters
    (``rules_sql.event_index_name``): ``(<property expressions>, occurred_at, contact_id, value)
    WHERE name = '<event>'`` — one range scan of the matching events, and only events of that
    name pay for it on insert."""
    if dialect_name not in ("sqlite", "postgresql"):
        return []
    pg = dialect_name == "postgresql"
    table = sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("name", sa.String),
        sa.Column("properties", JSONB if pg else sa.Text),
        sa.Column("occurred_at", sa.DateTime),
        sa.Column("contact_id", sa.BigInteger),
        sa.Column("value", sa.Float),
    )
    out: dict[str, sa.Index] = {}
    for ev in _event_aggs(rule):
        name = event_index_name(ev, dialect_name)
        if name is None or name in out:
            continue
        exprs = [json_index_expression(table.c.properties, (p,), dialect_name) for p in indexable_event_props(ev)]
        where = table.c.name == sa.literal_column(f"'{ev.event}'", sa.String)  # literal-safe (checked)
        kw: dict[str, Any] = {"postgresql_where": where} if pg else {"sqlite_where": where}
        out[name] = sa.Index(name, *exprs, table.c.occurred_at, table.c.contact_id, table.c.value, **kw)
    return list(out.values())


def rule_indexes(rule: Rule, dialect_name: str) -> list[sa.Index]:
    """Every optional index the rule's conditions can use."""
    return attribute_indexes(rule, dialect_name) + event_property_indexes(rule, dialect_name)


def _event_aggs(rule: Rule) -> Iterable[EventAgg]:
    if isinstance(rule, Compare) and isinstance(rule.target, EventAgg):
        yield rule.target
    for sub in getattr(rule, "items", ()) or ((rule.item,) if isinstance(rule, Not) else ()):
        yield from _event_aggs(sub)


def ensure_rule_indexes(engine: sa.Engine, rule: Rule) -> list[str]:
    """Create (if missing) the indexes ``rule_indexes`` names; returns their names.

    PostgreSQL: ``CREATE INDEX CONCURRENTLY`` outside a transaction (the table stays writable
    while it builds); an invalid leftover of an interrupted build is dropped and rebuilt.
    """
    names: list[str] = []
    pg = engine.dialect.name == "postgresql"
    indexes = rule_indexes(rule, engine.dialect.name)
    if not indexes:
        return names
    with engine.connect() as conn:
        if pg:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        tables = set()
        for ix in indexes:
            if pg:
                ix.dialect_options["postgresql"]["concurrently"] = True
                valid = conn.execute(
                    sa.text(
                        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE c.relname = :n AND pg_table_is_visible(c.oid)"
                    ),
                    {"n": ix.name},
                ).scalar()
                if valid is False and not (ix.table is not None and partitions.partitioned(conn, ix.table.name)):
                    conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{ix.name}"')
            assert ix.table is not None
            if pg and partitions.partitioned(conn, ix.table.name):
                _create_on_partitions(conn, ix)
            else:
                conn.execute(sa.schema.CreateIndex(ix, if_not_exists=True))
            if not pg:  # statistics for the planner: one pass over the index
                conn.exec_driver_sql(f'ANALYZE "{ix.name}"')
            tables.add(ix.table.name)
            names.append(str(ix.name))
        if pg:  # expression statistics (a sample of the table)
            for t in sorted(tables):
                conn.exec_driver_sql(f"ANALYZE {t}")
        else:
            conn.commit()
    return names


def partition_index_name(partition: str, index: str) -> str:
    """The name of a rule index's part on one partition (never a rule index prefix, so never
    listed or dropped as a rule index itself; within PostgreSQL's 63 characters)."""
    return f"{partition}_{hashlib.blake2s(index.encode(), digest_size=5).hexdigest()}"


def _create_on_partitions(conn: sa.Connection, ix: sa.Index) -> None:
    """``ix`` on a partitioned table (AUTOCOMMIT connection): on the parent only, then
    ``CONCURRENTLY`` on every partition (an invalid leftover rebuilt) and attached."""
    assert ix.table is not None
    table = ix.table.name
    ix.dialect_options["postgresql"]["concurrently"] = False
    ddl = str(sa.schema.CreateIndex(ix, if_not_exists=True).compile(dialect=conn.dialect))
    head = f"CREATE INDEX IF NOT EXISTS {ix.name} ON {table} "
    if not ddl.startswith(head):
        raise RuntimeError(f"unexpected DDL for {ix.name}: {ddl}")
    body = ddl[len(head):]
    conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "{ix.name}" ON ONLY "{table}" {body}')
    parts = conn.execute(
        sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = to_regclass(:t)"),
        {"t": table},
    ).scalars().all()
    for part in sorted(parts):
        child = partition_index_name(part, str(ix.name))
        valid = conn.execute(
            sa.text("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:n)"), {"n": child}
        ).scalar()
        if valid is False:
            conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{child}"')
        conn.exec_driver_sql(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{child}" ON "{part}" {body}')
        conn.exec_driver_sql(f'ALTER INDEX "{ix.name}" ATTACH PARTITION "{child}"')


def existing_rule_indexes(conn: sa.Connection) -> frozenset[str]:
    """Names of the optional rule indexes present (and, on PostgreSQL, valid) in the database."""
    patterns = {f"p{i}": prefix.replace("_", "\\_") + "%" for i, prefix in enumerate(RULE_INDEX_PREFIXES)}
    if conn.dialect.name == "postgresql":
        q = sa.text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indisvalid AND pg_table_is_visible(c.oid)"
            " AND (c.relname LIKE :p0 ESCAPE '\\' OR c.relname LIKE :p1 ESCAPE '\\')"
        )
    else:
        q = sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            " AND (name LIKE :p0 ESCAPE '\\' OR name LIKE :p1 ESCAPE '\\')"
        )
    return frozenset(str(n) for n in conn.execute(q, patterns).scalars())


def rule_query(conn: sa.Connection, rule: Rule, now: datetime) -> sa.Select[Any]:
    """``compile_rule`` with the rule indexes that exist, its planner settings applied to the
    connection's transaction (``tune_connection``): how a whole-segment query is run."""
    query = compile_rule(rule, conn.dialect.name, now, indexes=existing_rule_indexes(conn))
    tune_connection(conn, query)
    return query


def drop_unused_rule_indexes(engine: sa.Engine, rules: Iterable[Rule]) -> list[str]:
    """Drop the optional rule indexes no rule in ``rules`` (every saved segment's) needs;
    returns their names. PostgreSQL: ``DROP INDEX CONCURRENTLY``."""
    wanted = {str(ix.name) for r in rules for ix in rule_indexes(r, engine.dialect.name)}
    pg = engine.dialect.name == "postgresql"
    dropped: list[str] = []
    with engine.connect() as conn:
        present = existing_rule_indexes(conn)
        conn.rollback()
        if pg:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for name in sorted(present - wanted):
            if not name.startswith(RULE_INDEX_PREFIXES):  # never anything else
                continue
            concurrently = pg and not _partitioned_index(conn, name)
            conn.exec_driver_sql(f'DROP INDEX {"CONCURRENTLY " if concurrently else ""}IF EXISTS "{name}"')
            dropped.append(name)
        if not pg:
            conn.commit()
    if dropped:
        log.info("dropped rule indexes no segment uses: %s", ", ".join(dropped))
    return dropped


def _partitioned_index(conn: sa.Connection, name: str) -> bool:
    kind = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}).scalar()
    return kind == "I"


#: one process at a time builds and drops rule indexes (PostgreSQL session advisory lock key).
_SYNC_LOCK = 0x7469_6478  # "tidx"


def saved_rules_version(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes whenever a segment is created, changed or deleted: (count, highest id, latest
    update) of ``segments``. Cheap enough to poll."""
    from tidings.store.schema import segments as s

    row = conn.execute(sa.select(sa.func.count(), sa.func.max(s.c.id), sa.func.max(s.c.updated_at))).one()
    return tuple(row)


def sync_rule_indexes(engine: sa.Engine, rules: Iterable[Rule]) -> tuple[list[str], list[str]] | None:
    """Create the indexes ``rules`` (every saved segment's) need and drop the rule indexes none
    of them needs; returns (present, dropped) names. On PostgreSQL only one process does this at
    a time: returns None at once when another holds the lock."""
    rules = list(rules)
    with engine.connect() as lock_conn:
        if engine.dialect.name == "postgresql":
            lock_conn = lock_conn.execution_options(isolation_level="AUTOCOMMIT")
            if not lock_conn.execute(sa.select(sa.func.pg_try_advisory_lock(_SYNC_LOCK))).scalar():
                return None
        try:
            present = sorted({name for rule in rules for name in ensure_rule_indexes(engine, rule)})
            return present, drop_unused_rule_indexes(engine, rules)
        finally:
            if engine.dialect.name == "postgresql":
                lock_conn.execute(sa.select(sa.func.pg_advisory_unlock(_SYNC_LOCK)))
