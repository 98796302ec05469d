"""Who is this? Resolving identifiers to one contact, and merging two contacts into one.

A contact is found by its external id (the sender's ``userId``), email, phone, or an anonymous
id (``contact_aliases`` kind ``anonymous_id``). When one request names identifiers that point at
two contacts, and one of them is only an anonymous (or identifier-less) profile, its history is
merged into the known contact: every per-contact row moves, an alias ``merged_id`` remembers
the old id, and the old contact row is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.application.contacts import changes
from tidings.domain.contacts import merge_attributes
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.store import schema
from tidings.store.queue import enqueue_contacts

C = schema.contacts
A = schema.contact_aliases


class IdentityConflict(ValueError):
    """The identifiers given belong to two known contacts that we must not merge silently."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def per_contact_tables() -> list[sa.Table]:
    """Every table carrying ``contact_id`` (read from the schema, so new tables are included)."""
    return [t for t in schema.metadata.sorted_tables if "contact_id" in t.c]


def contact_keys(table: sa.Table) -> list[list[str]]:
    """The unique keys of a per-contact table that include ``contact_id`` (primary or unique)."""
    keys = [[c.name for c in table.primary_key.columns]]
    keys += [[c.name for c in u.columns] for u in table.constraints if isinstance(u, sa.UniqueConstraint)]
    keys += [[c.name for c in i.columns] for i in table.indexes if i.unique]
    return [k for k in keys if "contact_id" in k]


def upsert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def find_alias(conn: sa.Connection, kind: str, value: str) -> int | None:
    return conn.execute(sa.select(A.c.contact_id).where(A.c.kind == kind, A.c.value == value)).scalar()


def find_by(conn: sa.Connection, field: str, value: Any) -> int | None:
    if field == "id":
        found = conn.execute(sa.select(C.c.id).where(C.c.id == int(value))).scalar()
        # the id of a contact we merged away still finds the contact it became
        return found if found is not None else find_alias(conn, "merged_id", str(value))
    if field == "anonymous_id":
        return find_alias(conn, "anonymous_id", value)
    found = conn.execute(sa.select(C.c.id).where(C.c[field] == value)).scalar()
    if found is None and field == "external_id":  # a user id merged into another by alias
        found = find_alias(conn, "user_id", str(value))
    return found


def add_alias(conn: sa.Connection, kind: str, value: str, contact_id: int, now: datetime) -> None:
    conn.execute(
        upsert_ignore(conn, A), [{"kind": kind, "value": value, "contact_id": contact_id, "created_at": now}]
    )


def create_contact_row(conn: sa.Connection, now: datetime, **fields: Any) -> int | None:
    """Insert a contact; None when a unique identifier is already taken (a concurrent writer)."""
    anonymous = not any(fields.get(k) for k in ("external_id", "email", "phone"))
    row = {"attributes": {}, "anonymous": anonymous, "created_at": now, "updated_at": now, **fields}
    stmt = upsert_ignore(conn, C).values(**row).returning(C.c.id)
    return conn.execute(stmt).scalar()


def resolve_contact(
    conn: sa.Connection,
    *,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    anonymous_id: str | None = None,
    now: datetime,
    create: bool = True,
    source: str = "api",
) -> int | None:
    """The contact these (already normalised) identifiers name; created when unknown.

    Priority: external id, email, phone, anonymous id. Identifiers pointing at other contacts
    are merged in when those contacts are anonymous or carry no conflicting external id;
    identifiers the winner lacks are set on it; an anonymous id becomes an alias. Returns None
    only when nothing matched and ``create`` is false.
    """
    keys = {"external_id": external_id, "email": email, "phone": phone, "anonymous_id": anonymous_id}
    found = {k: find_by(conn, k, v) for k, v in keys.items() if v}
    primary = next((cid for cid in found.values() if cid is not None), None)
    if primary is None:
        if not create:
            return None
        fields = {k: v for k, v in keys.items() if v and k != "anonymous_id"}
        primary = create_contact_row(conn, now, **fields)
        if primary is None:  # lost a race on a unique identifier: resolve again
            return resolve_contact(
                conn,
                external_id=external_id,
                email=email,
                phone=phone,
                anonymous_id=anonymous_id,
                now=now,
                create=False,
                source=source,
            )
        if anonymous_id:
            add_alias(conn, "anonymous_id", anonymous_id, primary, now)
            winner = find_alias(conn, "anonymous_id", anonymous_id)
            if winner != primary:  # a concurrent request created it first
                conn.execute(sa.delete(C).where(C.c.id == primary))
                return winner
        created = {k: {"from": None, "to": v} for k, v in fields.items()}
        changes.record(
            conn,
            [
                changes.change_event(
                    primary, "contact.updated", {"changed": created, "created": True}, now, source
                )
            ],
            now,
        )
        return primary
    for cid in found.values():
        if cid is None or cid == primary:
            continue
        if mergeable(conn, cid, primary):
            merge_contacts(conn, cid, primary, now, source=source)
    _fill_identifiers(conn, primary, keys, now, source)
    return primary


def mergeable(conn: sa.Connection, source_id: int, target_id: int) -> bool:
    """Fold ``source`` into ``target`` only when that cannot join two different known people."""
    rows = {
        r.id: r
        for r in conn.execute(
            sa.select(C.c.id, C.c.external_id, C.c.anonymous).where(C.c.id.in_((source_id, target_id)))
        )
    }
    src, dst = rows.get(source_id), rows.get(target_id)
    if src is None or dst is None:
        return False
    if src.anonymous:
        return True
    return src.external_id is None or dst.external_id is None


def _fill_identifiers(
    conn: sa.Connection, contact_id: int, keys: dict[str, Any], now: datetime, source: str
) -> None:
    row = conn.execute(sa.select(C).where(C.c.id == contact_id)).mappings().one()
    values: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in ("external_id", "email", "phone"):
        v = keys.get(field)
        if v and row[field] is None:
            holder = conn.execute(sa.select(C.c.id).where(C.c[field] == v)).scalar()
            if holder is None:
                values[field] = v
                changed[field] = {"from": None, "to": v}
    if keys.get("anonymous_id") and find_alias(conn, "anonymous_id", keys["anonymous_id"]) is None:
        add_alias(conn, "anonymous_id", keys["anonymous_id"], contact_id, now)
    if values:
        values["anonymous"] = False
        values["updated_at"] = now
        conn.execute(sa.update(C).where(C.c.id == contact_id).values(**values))
        changes.record(
            conn,
            [changes.change_event(contact_id, "contact.updated", {"changed": changed}, now, source)],
            now,
        )


def merge_contacts(
    conn: sa.Connection, source_id: int, target_id: int, now: datetime, *, source: str = "api"
) -> None:
    """Move everything of ``source_id`` onto ``target_id`` and delete ``source_id``.

    Rows keyed by contact (tags, consents...) keep the target's row when both have one, except
    consent, where the most recent decision wins. Fields the target lacks are filled from the
    source; attributes merge with the target's values winning.
    """
    if source_id == target_id:
        return
    src = conn.execute(sa.select(C).where(C.c.id == source_id)).mappings().first()
    dst = conn.execute(sa.select(C).where(C.c.id == target_id)).mappings().first()
    if src is None or dst is None:
        return
    _prefer_newer_consents(conn, source_id, target_id)
    for table in per_contact_tables():
        keys = contact_keys(table)
        if ["contact_id"] in keys:  # one row per contact (e.g. the queue): the target's stays
            conn.execute(sa.delete(table).where(table.c.contact_id == source_id))
            continue
        for cols in keys:  # e.g. (contact_id, tag): where both have the row, the target's stays
            others = [n for n in cols if n != "contact_id"]
            t2 = table.alias("t2")
            dup = (
                sa.select(sa.literal(1))
                .select_from(t2)
                .where(t2.c.contact_id == target_id, *[t2.c[n] == table.c[n] for n in others])
            )
            conn.execute(sa.delete(table).where(table.c.contact_id == source_id, sa.exists(dup)))
        conn.execute(sa.update(table).where(table.c.contact_id == source_id).values(contact_id=target_id))
    fill: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    for field in (f for f in PROFILE_FIELDS if f != "score"):  # the target keeps its own score
        if dst[field] is None and src[field] is not None:
            fill[field] = src[field]
            changed[field] = {"from": None, "to": src[field]}
    attrs = merge_attributes(src["attributes"] or {}, dst["attributes"] or {})
    if attrs != (dst["attributes"] or {}):
        fill["attributes"] = attrs
    conn.execute(sa.delete(C).where(C.c.id == source_id))
    fill["updated_at"] = now
    if fill.get("external_id") or fill.get("email") or fill.get("phone") or not dst["anonymous"]:
        fill["anonymous"] = False
    conn.execute(sa.update(C).where(C.c.id == target_id).values(**fill))
    add_alias(conn, "merged_id", str(source_id), target_id, now)
    if src["external_id"] and dst["external_id"] and src["external_id"] != dst["external_id"]:
        # two user ids, one person (an explicit alias): the old user id keeps resolving
        add_alias(conn, "user_id", src["external_id"], target_id, now)
    rows = [changes.change_event(target_id, "contact.merged", {"merged_id": source_id}, now, source)]
    if changed:
        rows.append(changes.change_event(target_id, "contact.updated", {"changed": changed}, now, source))
    changes.record(conn, rows, now)


def _prefer_newer_consents(conn: sa.Connection, source_id: int, target_id: int) -> None:
    t = schema.consents
    mine = {
        r.channel: r.recorded_at
        for r in conn.execute(sa.select(t.c.channel, t.c.recorded_at).where(t.c.contact_id == target_id))
    }
    for r in conn.execute(sa.select(t.c.channel, t.c.recorded_at).where(t.c.contact_id == source_id)).all():
        if r.channel in mine and r.recorded_at > mine[r.channel]:
            conn.execute(sa.delete(t).where(t.c.contact_id == target_id, t.c.channel == r.channel))


def delete_contacts(conn: sa.Connection, contact_ids: Iterable[int]) -> int:
    """Hard delete: the contacts and every per-contact row (erasure)."""
    ids = list(contact_ids)
    if not ids:
        return 0
    for table in per_contact_tables():
        conn.execute(sa.delete(table).where(table.c.contact_id.in_(ids)))
    return conn.execute(sa.delete(C).where(C.c.id.in_(ids))).rowcount or 0


def enqueue(conn: sa.Connection, contact_ids: Iterable[int], now: datetime) -> None:
    enqueue_contacts(conn, contact_ids, now)
