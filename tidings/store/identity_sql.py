"""SQL of the contact aggregate (``ContactRecords``): the row, its identifiers and aliases, its
tags, the pages of the contacts list; every per-contact row moved on a merge and deleted on an
erasure. The use cases are ``application/contacts/identity.py`` and ``contacts.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.contacts import ContactFilter
from tidings.store import schema
from tidings.store.citus import sharded_tables
from tidings.store.content_sql import SqlContactReader
from tidings.store.upsert import claim_contact_keys, insert_new_contacts, upsert_ignore

C = schema.contacts
A = schema.contact_aliases


def _delete_duplicates_apart(
    conn: sa.Connection, table: sa.Table, others: list[str], source_id: int, target_id: int
) -> None:
    """The source's rows the target also has (same ``others``), deleted without joining the two."""
    taken = conn.execute(sa.select(*(table.c[n] for n in others)).where(table.c.contact_id == target_id)).all()
    if not taken:
        return
    key = sa.tuple_(*(table.c[n] for n in others))
    conn.execute(sa.delete(table).where(table.c.contact_id == source_id, key.in_([tuple(r) for r in taken])))
T = schema.contact_tags
K = schema.consents


def per_contact_tables() -> list[sa.Table]:
    """Every table carrying ``contact_id`` (read from the schema, so new tables are included)."""
    return [t for t in schema.metadata.sorted_tables if "contact_id" in t.c]


def contact_keys(table: sa.Table) -> list[list[str]]:
    """The unique keys of a per-contact table that include ``contact_id`` (primary or unique)."""
    keys = [[c.name for c in table.primary_key.columns]]
    keys += [[c.name for c in u.columns] for u in table.constraints if isinstance(u, sa.UniqueConstraint)]
    keys += [[c.name for c in i.columns] for i in table.indexes if i.unique]
    return [k for k in keys if "contact_id" in k]


def _filtered(q: Any, f: ContactFilter) -> Any:
    if f.tag:
        q = q.where(sa.exists(sa.select(T.c.tag).where(T.c.contact_id == C.c.id, T.c.tag == f.tag)))
    if f.stage:
        q = q.where(C.c.lifecycle_stage == f.stage)
    if f.owner:
        q = q.where(C.c.owner == f.owner)
    if f.q:
        text = f.q.strip().lower()
        q = q.where(
            sa.or_(
                C.c.email.contains(text, autoescape=True),
                sa.func.lower(C.c.first_name).contains(text, autoescape=True),
                sa.func.lower(C.c.last_name).contains(text, autoescape=True),
                C.c.external_id == f.q.strip(),
            )
        )
    if f.created_after:
        q = q.where(C.c.created_at >= f.created_after)
    if f.created_before:
        q = q.where(C.c.created_at < f.created_before)
    if not f.include_anonymous:
        q = q.where(C.c.anonymous.is_(False))
    return q


class SqlContacts(SqlContactReader):
    """``ContactRecords`` on the caller's connection (``SqlUnitOfWork.contacts``)."""

    # ------------------------------------------------------------------ identifiers

    def id_by(self, field: str, value: Any) -> int | None:
        if field == "id":
            found: int | None = self.conn.execute(sa.select(C.c.id).where(C.c.id == int(value))).scalar()
            return found
        return super().id_by(field, value)

    def alias_owner(self, kind: str, value: str) -> int | None:
        found: int | None = self.conn.execute(
            sa.select(A.c.contact_id).where(A.c.kind == kind, A.c.value == value)
        ).scalar()
        return found

    def add_alias(self, kind: str, value: str, contact_id: int, now: datetime) -> None:
        self.conn.execute(
            upsert_ignore(self.conn, A), [{"kind": kind, "value": value, "contact_id": contact_id, "created_at": now}]
        )

    # ------------------------------------------------------------------ rows

    def insert(self, row: Mapping[str, Any]) -> int | None:
        inserted = insert_new_contacts(self.conn, [row], returning=(C.c.id,))
        return int(inserted[0][0]) if inserted else None

    def update(self, contact_id: int, values: Mapping[str, Any]) -> None:
        claim_contact_keys(self.conn, contact_id, values)
        self.conn.execute(sa.update(C).where(C.c.id == contact_id).values(**values))

    def delete(self, contact_ids: Iterable[int]) -> int:
        ids = list(contact_ids)
        if not ids:
            return 0
        for table in per_contact_tables():
            self.conn.execute(sa.delete(table).where(table.c.contact_id.in_(ids)))
        return self.conn.execute(sa.delete(C).where(C.c.id.in_(ids))).rowcount or 0

    def move_rows(self, source_id: int, target_id: int) -> None:
        conn = self.conn
        mine = {
            r.channel: r.recorded_at
            for r in conn.execute(sa.select(K.c.channel, K.c.recorded_at).where(K.c.contact_id == target_id))
        }
        for r in conn.execute(sa.select(K.c.channel, K.c.recorded_at).where(K.c.contact_id == source_id)).all():
            if r.channel in mine and r.recorded_at > mine[r.channel]:  # the newer decision wins
                conn.execute(sa.delete(K).where(K.c.contact_id == target_id, K.c.channel == r.channel))
        for table in per_contact_tables():
            keys = contact_keys(table)
            if ["contact_id"] in keys:  # one row per contact (e.g. the queue): the target's stays
                conn.execute(sa.delete(table).where(table.c.contact_id == source_id))
                continue
            citus = table.name in sharded_tables(conn)
            for cols in keys:  # e.g. (contact_id, tag): where both have the row, the target's stays
                others = [n for n in cols if n != "contact_id"]
                if citus:  # two contacts' rows may sit on two shards: no join between them
                    _delete_duplicates_apart(conn, table, others, source_id, target_id)
                    continue
                t2 = table.alias("t2")
                dup = (
                    sa.select(sa.literal(1))
                    .select_from(t2)
                    .where(t2.c.contact_id == target_id, *[t2.c[n] == table.c[n] for n in others])
                )
                conn.execute(sa.delete(table).where(table.c.contact_id == source_id, sa.exists(dup)))
            if citus:  # Citus does not update a distribution column: copy the rows over, then delete
                moved = [c for c in table.c if c.name != "contact_id"]
                conn.execute(
                    sa.insert(table).from_select(
                        ["contact_id", *(c.name for c in moved)],
                        sa.select(sa.literal(target_id, sa.BigInteger), *moved).where(table.c.contact_id == source_id),
                    )
                )
                conn.execute(sa.delete(table).where(table.c.contact_id == source_id))
                continue
            conn.execute(sa.update(table).where(table.c.contact_id == source_id).values(contact_id=target_id))

    # ------------------------------------------------------------------ tags

    def add_tags(self, contact_id: int, tags: Iterable[str], now: datetime) -> None:
        rows = [{"contact_id": contact_id, "tag": t, "created_at": now} for t in tags]
        if rows:
            self.conn.execute(sa.insert(T), rows)

    def remove_tags(self, contact_id: int, tags: Iterable[str]) -> None:
        gone = list(tags)
        if gone:
            self.conn.execute(sa.delete(T).where(T.c.contact_id == contact_id, T.c.tag.in_(gone)))

    # ------------------------------------------------------------------ reads

    def many(self, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        conn = self.conn
        rows = {r["id"]: dict(r) for r in conn.execute(sa.select(C).where(C.c.id.in_(ids))).mappings()}
        tags: dict[int, list[str]] = {}
        for r in conn.execute(sa.select(T.c.contact_id, T.c.tag).where(T.c.contact_id.in_(ids)).order_by(T.c.tag)):
            tags.setdefault(r.contact_id, []).append(r.tag)
        consent: dict[int, dict[str, Any]] = {}
        for k in conn.execute(sa.select(K).where(K.c.contact_id.in_(ids))).mappings():
            consent.setdefault(k["contact_id"], {})[k["channel"]] = {
                "status": k["status"],
                "source": k["source"],
                "recorded_at": k["recorded_at"],
                "proof": k["proof"],
                "topics": k["topics"],
                "paused_until": k["paused_until"],
            }
        return [rows[i] | {"tags": tags.get(i, []), "consent": consent.get(i, {})} for i in ids if i in rows]

    def page_ids(self, f: ContactFilter, *, after: int, limit: int) -> list[int]:
        q = _filtered(sa.select(C.c.id).where(C.c.id > after).order_by(C.c.id).limit(limit), f)
        return [int(i) for i in self.conn.execute(q).scalars()]

    def matching(self, ids: Iterable[int], f: ContactFilter) -> set[int]:
        wanted = list(ids)
        if not wanted:
            return set()
        return {int(i) for i in self.conn.execute(_filtered(sa.select(C.c.id).where(C.c.id.in_(wanted)), f)).scalars()}
