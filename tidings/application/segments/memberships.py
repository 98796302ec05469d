"""Segment memberships: who is in which segment, kept current two ways with one meaning.

- :func:`refresh_contacts` — incremental, a batch of contacts, inside the worker's transaction,
  on the snapshots the journey engine loaded: only the segments whose rule reads something
  that changed are re-evaluated (Python evaluator); :func:`refresh_contact` is the same for one
  contact outside the worker (it loads only the snapshot parts its rules read);
- :func:`refresh_segment` — set-based, one segment, every contact (SQL compiler): on create and
  update, and by the scheduled refresher for rules that slide with time.
Every entry and exit closes/opens a ``segment_memberships`` history row, appends a
``segment.entered`` / ``segment.exited`` event and enqueues the contact, so journeys can trigger
on it. An open membership is unique per (segment, contact), so concurrent refreshes record each
change once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.application.contacts.changes import change_event
from tidings.domain.rules import Rule, RuleDeps, dependencies, deps_from_events, evaluate, parse_contact_rule
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.store import ingest_sql, schema
from tidings.store.rule_indexes import rule_query
from tidings.store.snapshots import load_snapshot

#: how often rules that slide with time are re-evaluated by the scheduled refresher.
DEFAULT_REFRESH = timedelta(minutes=1)
CHUNK = 5000
MAX_CASCADE = 8


@dataclass(frozen=True)
class SavedSegment:
    id: int
    key: str
    rule: Rule
    deps: RuleDeps


_cache_lock = threading.Lock()
_cache: dict[str, tuple[Rule, RuleDeps]] = {}


def _saved(rows: Iterable[Any]) -> list[SavedSegment]:
    """Parsed rules of stored segments, cached by the rule document itself (never stale)."""
    out = []
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        for r in rows:
            doc = json.dumps(r["rule"], sort_keys=True)
            hit = _cache.get(doc)
            if hit is None:
                rule = parse_contact_rule(r["rule"])
                hit = _cache[doc] = (rule, dependencies(rule))
            out.append(SavedSegment(int(r["id"]), str(r["key"]), hit[0], hit[1]))
    return out


def all_segments(conn: sa.Connection) -> list[SavedSegment]:
    s = schema.segments
    rows = conn.execute(sa.select(s.c.id, s.c.key, s.c.rule, s.c.updated_at).order_by(s.c.id)).mappings().all()
    return _saved(rows)


def _insert_open(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Open memberships, skipping ones already open (a concurrent refresh): (segment, contact) inserted."""
    m = schema.segment_memberships
    ins: Any = postgresql.insert(m) if conn.dialect.name == "postgresql" else sqlite.insert(m)
    stmt = ins.on_conflict_do_nothing(
        index_elements=[m.c.segment_id, m.c.contact_id], index_where=m.c.exited_at.is_(None)
    ).returning(m.c.segment_id, m.c.contact_id)
    out: list[tuple[int, int]] = []
    for i in range(0, len(rows), CHUNK):
        out.extend((int(r[0]), int(r[1])) for r in conn.execute(stmt, rows[i : i + CHUNK]))
    return out


def _event_row(contact_id: int, what: str, key: str, now: datetime) -> dict[str, Any]:
    """The ``segment.entered`` / ``segment.exited`` event row of one membership change."""
    return change_event(contact_id, f"segment.{what}", {"segment": key}, now, "segments")


def _record_events(
    conn: sa.Connection, changes: list[tuple[int, str, str]], now: datetime, enqueue: bool = True
) -> None:
    """``segment.entered`` / ``segment.exited`` events (contact, what, segment key) and the queue.

    ``enqueue=False``: the caller is the worker processing these very contacts (it re-checks
    their unprocessed events when it drops their queue rows, ``store.enrollments.finish_contacts``).
    """
    for i in range(0, len(changes), CHUNK):
        part = changes[i : i + CHUNK]
        rows = [_event_row(cid, what, key, now) for cid, what, key in part]
        ingest_sql.insert_events(conn, rows, known_new=True)  # the bulk path (a segment of 10^5 people)
        if enqueue:
            ingest_sql.enqueue(conn, [cid for cid, _, _ in part], now)


def _write_changes(
    conn: sa.Connection, segment_id: int, key: str, entered: list[int], exited: list[int], now: datetime
) -> tuple[int, int]:
    """One segment's entries and exits, in bulk; each recorded once even under concurrent refreshes."""
    m = schema.segment_memberships
    done_in = _insert_open(conn, [{"contact_id": c, "segment_id": segment_id, "entered_at": now} for c in entered])
    done_out: list[int] = []
    for i in range(0, len(exited), CHUNK):
        part = exited[i : i + CHUNK]
        done_out.extend(
            conn.execute(
                sa.update(m)
                .where(m.c.segment_id == segment_id, m.c.exited_at.is_(None), m.c.contact_id.in_(part))
                .values(exited_at=now)
                .returning(m.c.contact_id)
            ).scalars()
        )
    _record_events(conn, [(c, "entered", key) for _, c in done_in] + [(int(c), "exited", key) for c in done_out], now)
    return len(done_in), len(done_out)


def refresh_segment(
    engine: sa.Engine, segment_id: int, now: datetime, refresh_every: timedelta | None = None
) -> tuple[int, int]:
    """Re-evaluate one segment for every contact (SQL); returns (entered, exited)."""
    s, m = schema.segments, schema.segment_memberships
    with engine.begin() as conn:
        row = (
            conn.execute(sa.select(s.c.id, s.c.key, s.c.rule, s.c.updated_at).where(s.c.id == segment_id))
            .mappings()
            .first()
        )
        if row is None:
            return 0, 0
        seg = _saved([row])[0]
        query = rule_query(conn, seg.rule, now)
        target = set(conn.execute(query).scalars())
        current = set(
            conn.execute(
                sa.select(m.c.contact_id).where(m.c.segment_id == segment_id, m.c.exited_at.is_(None))
            ).scalars()
        )
        n_in, n_out = _write_changes(conn, segment_id, seg.key, sorted(target - current), sorted(current - target), now)
        values: dict[str, Any] = {"evaluated_at": now}
        if seg.deps.time_relative:
            values["next_refresh_at"] = now + (refresh_every or DEFAULT_REFRESH)
        conn.execute(sa.update(s).where(s.c.id == segment_id).values(**values))
    return n_in, n_out


def _hint(conn: sa.Connection, contact_id: int, changed: Any) -> RuleDeps | None:
    """What changed for the contact: given, or read from its unprocessed events (None = unknown)."""
    if isinstance(changed, RuleDeps):
        return changed
    if changed is not None:
        return deps_from_events(EventRecord(str(n), datetime.min) for n in changed)
    e = schema.events
    rows = conn.execute(
        sa.select(e.c.name, e.c.properties)
        .where(e.c.contact_id == contact_id, e.c.processed_at.is_(None))
        .order_by(e.c.id)
        .limit(1000)
    ).all()
    if not rows:
        return None
    return deps_from_events(EventRecord(r.name, datetime.min, r.properties or {}) for r in rows)


def refresh_contact(
    conn: sa.Connection,
    contact_id: int,
    now: datetime,
    snapshot: ContactSnapshot | None = None,
    changed: RuleDeps | Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """Re-evaluate, for one contact, the segments a change can affect; record entries and exits.

    ``changed`` narrows the work (a RuleDeps, or the names of the events just recorded); without
    it the contact's unprocessed events say what changed, and with none every segment is checked.
    Time alone moving a contact in or out is the scheduled refresher's job (``refresh_segment``).
    Cascades through ``in_segment``.
    """
    segs = all_segments(conn)
    if not segs:
        return []
    hint = _hint(conn, contact_id, changed)
    todo = [s for s in segs if hint is None or s.deps.affected_by(hint)]
    if not todo:
        return []
    snap = snapshot or _snapshot_for(conn, contact_id, todo, segs)
    if snap is None:
        return []
    current = set(snap.segments)
    changes: list[tuple[str, str]] = []
    by_key = {s.key: s for s in segs}
    for _ in range(MAX_CASCADE):
        round_changes = []
        for seg in todo:
            inside = evaluate(seg.rule, snap, now)
            if inside != (seg.key in current):
                round_changes.append((seg.key, "entered" if inside else "exited"))
        if not round_changes:
            break
        recorded = _write_contact_changes(conn, contact_id, [(by_key[k].id, k, w) for k, w in round_changes], now)
        for k, what in round_changes:
            (current.add if what == "entered" else current.discard)(k)
        changes.extend(recorded)
        snap = replace(snap, segments=frozenset(current))
        keys = {k for k, _ in round_changes}
        todo = [s for s in segs if s.deps.segments & keys]
    return changes


def refresh_contacts(
    conn: sa.Connection,
    snapshots: Mapping[int, ContactSnapshot],
    pending: Mapping[int, Sequence[EventRecord]],
    now: datetime,
    *,
    enqueue: bool = True,
) -> tuple[dict[int, ContactSnapshot], dict[int, list[EventRecord]]]:
    """:func:`refresh_contact` for a batch of contacts, with snapshots the caller already loaded.

    ``snapshots`` must be full (events, tags, consents, journeys, segments) and current: loaded in
    this transaction, under the contacts' locks. ``pending`` holds each contact's unprocessed
    events (the hint; a contact without any has every segment checked, as ``refresh_contact``
    does). The writes of one cascade round go out in bulk for the whole batch. Returns the
    snapshots whose segments changed, with ``segments`` updated (and nothing else: the
    snapshot's events are the caller's), and the ``segment.*`` events written, per contact in
    id order (new unprocessed events of the contact).
    """
    segs = all_segments(conn)
    new_events: dict[int, list[EventRecord]] = {}
    if not segs or not snapshots:
        return {}, new_events
    todo: dict[int, list[SavedSegment]] = {}
    for cid in snapshots:
        events = pending.get(cid)
        hint = deps_from_events(events) if events else None
        t = [s for s in segs if hint is None or s.deps.affected_by(hint)]
        if t:
            todo[cid] = t
    current = {cid: set(snapshots[cid].segments) for cid in todo}
    touched: set[int] = set()
    for _ in range(MAX_CASCADE):
        changes: list[tuple[int, int, str, str]] = []  # contact, segment id, key, what
        for cid, t in todo.items():
            snap = snapshots[cid] if cid not in touched else replace(snapshots[cid], segments=frozenset(current[cid]))
            for seg in t:
                inside = evaluate(seg.rule, snap, now)
                if inside != (seg.key in current[cid]):
                    changes.append((cid, seg.id, seg.key, "entered" if inside else "exited"))
        if not changes:
            break
        for cid, ev in _write_many_changes(conn, changes, now, enqueue):
            new_events.setdefault(cid, []).append(ev)
        keys: dict[int, set[str]] = {}
        for cid, _sid, key, what in changes:
            (current[cid].add if what == "entered" else current[cid].discard)(key)
            keys.setdefault(cid, set()).add(key)
            touched.add(cid)
        todo = {cid: [s for s in segs if s.deps.segments & ks] for cid, ks in keys.items()}
        todo = {cid: t for cid, t in todo.items() if t}
    changed = {cid: replace(snapshots[cid], segments=frozenset(current[cid])) for cid in sorted(touched)}
    return changed, new_events


def _write_many_changes(
    conn: sa.Connection, changes: list[tuple[int, int, str, str]], now: datetime, enqueue: bool
) -> list[tuple[int, EventRecord]]:
    """Entries and exits of many contacts (contact, segment id, key, what), each recorded once.

    Returns the ``segment.*`` events written: (contact, event with its id).
    """
    m = schema.segment_memberships
    keys = {sid: key for _, sid, key, _ in changes}
    entered = [{"contact_id": c, "segment_id": sid, "entered_at": now} for c, sid, _, w in changes if w == "entered"]
    exited = [(c, sid) for c, sid, _, w in changes if w == "exited"]
    done: list[tuple[int, str, str]] = []
    if entered:
        done += [(cid, "entered", keys[sid]) for sid, cid in _insert_open(conn, entered)]
    for i in range(0, len(exited), CHUNK):
        closed = conn.execute(
            sa.update(m)
            .where(sa.tuple_(m.c.contact_id, m.c.segment_id).in_(exited[i : i + CHUNK]), m.c.exited_at.is_(None))
            .values(exited_at=now)
            .returning(m.c.contact_id, m.c.segment_id)
        ).all()
        done += [(int(cid), "exited", keys[int(sid)]) for cid, sid in closed]
    # per contact in id order, entries before exits: the order refresh_contact writes them in
    done.sort(key=lambda d: (d[0], d[1] != "entered"))
    if not done:
        return []
    e = schema.events
    rows = [_event_row(cid, what, key, now) for cid, what, key in done]
    ids = conn.execute(sa.insert(e).returning(e.c.id, sort_by_parameter_order=True), rows).scalars().all()
    if enqueue:
        ingest_sql.enqueue(conn, [cid for cid, _, _ in done], now)
    return [
        (cid, EventRecord(f"segment.{what}", now, {"segment": key}, None, int(i)))
        for (cid, what, key), i in zip(done, ids, strict=True)
    ]


def _snapshot_for(
    conn: sa.Connection, contact_id: int, todo: list[SavedSegment], segs: list[SavedSegment]
) -> ContactSnapshot | None:
    """Load only what the rules to check (and the ones they may cascade to) read."""
    deps = RuleDeps()
    for s in segs if any(s.deps.segments for s in segs) else todo:
        deps = deps | s.deps
    names = None if "*" in deps.events else deps.events
    return load_snapshot(
        conn,
        contact_id,
        event_names=names,
        with_events=bool(deps.events),
        with_tags=bool(deps.tags),
        with_consents=bool(deps.consents),
        with_journeys=bool(deps.journeys),
    )


def _write_contact_changes(
    conn: sa.Connection, contact_id: int, changes: list[tuple[int, str, str]], now: datetime
) -> list[tuple[str, str]]:
    """One contact's entries and exits (segment id, key, what); returns those actually recorded."""
    m = schema.segment_memberships
    keys = {sid: key for sid, key, _ in changes}
    entered = [sid for sid, _, what in changes if what == "entered"]
    exited = [sid for sid, _, what in changes if what == "exited"]
    done: list[tuple[int, str, str]] = []
    if entered:
        rows = [{"contact_id": contact_id, "segment_id": sid, "entered_at": now} for sid in entered]
        done += [(contact_id, "entered", keys[sid]) for sid, _ in _insert_open(conn, rows)]
    if exited:
        closed = conn.execute(
            sa.update(m)
            .where(m.c.contact_id == contact_id, m.c.segment_id.in_(exited), m.c.exited_at.is_(None))
            .values(exited_at=now)
            .returning(m.c.segment_id)
        ).scalars()
        done += [(contact_id, "exited", keys[int(sid)]) for sid in closed]
    _record_events(conn, done, now)
    return [(key, what) for _, what, key in done]


def due_refreshes(conn: sa.Connection, now: datetime) -> list[int]:
    s = schema.segments
    return list(
        conn.execute(sa.select(s.c.id).where(s.c.next_refresh_at <= now).order_by(s.c.next_refresh_at)).scalars()
    )
