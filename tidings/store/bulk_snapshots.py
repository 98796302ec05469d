"""Contact snapshots for many contacts at once: a handful of queries per batch, not per contact.

The timer path fires hundreds of transitions per transaction; loading each contact with the
per-contact loader (``store.snapshots``) would cost six queries a transition. What a journey
needs decides what is loaded: events (the heaviest part) only when one of its conditions,
criteria or waits reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus
from tidings.store import schema
from tidings.store.bulk_sql import BulkSql
from tidings.store.snapshots import snapshot_from_row


def load_snapshots(
    conn: sa.Connection,
    contact_ids: Sequence[int],
    *,
    events: bool = False,
    events_since: datetime | None = None,
    journeys: bool = False,
    max_events: int | None = None,
) -> dict[int, ContactSnapshot]:
    """Snapshots of these contacts (missing ids are left out).

    ``max_events`` keeps only each contact's most recent events, as ``store.snapshots`` does.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    fast = BulkSql(conn)
    rows = {int(r["id"]): r for r in _contacts(fast, ids)}
    # tags, consents and segment memberships in one round trip
    w1, p1 = fast.in_("contact_id", ids)
    w2, p2 = fast.in_("m.contact_id", ids)
    tags: dict[int, set[str]] = defaultdict(set)
    consents: dict[int, dict[str, str]] = defaultdict(dict)
    segs: dict[int, set[str]] = defaultdict(set)
    for kind, cid, a, b in fast.fetch(
        f"SELECT 't', contact_id, tag, NULL FROM contact_tags WHERE {w1} "
        f"UNION ALL SELECT 'c', contact_id, channel, status FROM consents WHERE {w1} "
        "UNION ALL SELECT 's', m.contact_id, s.key, NULL FROM segment_memberships AS m "
        f"JOIN segments AS s ON s.id = m.segment_id WHERE {w2} AND m.exited_at IS NULL",
        p1 + p1 + p2,
    ):
        if kind == "t":
            tags[int(cid)].add(a)
        elif kind == "c":
            consents[int(cid)][a] = b
        else:
            segs[int(cid)].add(a)
    evs: dict[int, list[EventRecord]] = defaultdict(list)
    if events:
        e = schema.events
        q = sa.select(e.c.id, e.c.contact_id, e.c.name, e.c.occurred_at, e.c.properties, e.c.value).where(
            e.c.contact_id.in_(ids)
        )
        if events_since is not None:
            q = q.where(e.c.occurred_at >= events_since)
        for r in conn.execute(q.order_by(e.c.contact_id, e.c.occurred_at, e.c.id)):
            evs[int(r.contact_id)].append(
                EventRecord(
                    name=r.name,
                    occurred_at=r.occurred_at,
                    properties=r.properties or {},
                    value=r.value,
                    id=r.id,
                )
            )
    jmap: dict[int, dict[str, str]] = defaultdict(dict)
    if journeys:
        en, j = schema.enrollments, schema.journeys
        for jr in conn.execute(
            sa.select(en.c.contact_id, j.c.key, en.c.status, en.c.end_reason)
            .join(en, en.c.journey_id == j.c.id)
            .where(en.c.contact_id.in_(ids))
            .order_by(en.c.id)
        ):
            ended = jr.status == EnrolmentStatus.ENDED
            jmap[int(jr.contact_id)][jr.key] = f"ended:{jr.end_reason or ''}" if ended else jr.status
    out: dict[int, ContactSnapshot] = {}
    none: frozenset[str] = frozenset()
    for cid, row in rows.items():
        ctags, csegs, cevents = tags.get(cid), segs.get(cid), evs.get(cid)
        if cevents and max_events is not None and len(cevents) > max_events:
            cevents = cevents[len(cevents) - max_events :]
        out[cid] = snapshot_from_row(
            row,
            frozenset(ctags) if ctags else none,
            consents.get(cid) or {},
            tuple(cevents) if cevents else (),
            frozenset(csegs) if csegs else none,
            jmap.get(cid) or {},
        )
    return out


CONTACT_COLS = (
    "id", "email", "phone", "external_id", "first_name", "last_name", "timezone", "locale",
    "lifecycle_stage", "owner", "score", "created_at", "attributes",
)  # fmt: skip


def _contacts(fast: BulkSql, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The contact rows, without SQLAlchemy's row processing."""
    where, params = fast.in_("id", ids)
    out = []
    for r in fast.fetch(f"SELECT {', '.join(CONTACT_COLS)} FROM contacts WHERE {where}", params):
        d = dict(zip(CONTACT_COLS, r, strict=True))
        d["created_at"] = fast.parse_time(d["created_at"])
        d["attributes"] = fast.parse_json(d["attributes"]) or {}
        out.append(d)
    return out
