"""Segment memberships: who is in which segment, kept current two ways with one meaning.

- :func:`refresh_contacts` — incremental, a batch of contacts, inside the worker's transaction,
  on the snapshots the journey engine loaded: only the segments whose rule reads something
  that changed are re-evaluated (Python evaluator); :func:`refresh_contact` is the same for one
  contact outside the worker (it loads only the snapshot parts its rules read);
- :func:`refresh_segment` — set-based, one segment, every contact (the store evaluates the
  rule: compiled to SQL, or the domain evaluator in memory): on create and update, and by the
  scheduled refresher for rules that slide with time.
All storage goes through the ``SegmentMemberships`` port (``application/ports/segments.py``);
``*_in`` functions and :func:`refresh_contact` take the repository inside the caller's
transaction (the journey engine passes its unit of work's ``segments``), :func:`refresh_segment`
the ``SegmentStore`` it opens transactions on.
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

from tidings.application.ports.segments import SegmentMemberships, SegmentStore, StoredSegment
from tidings.domain.changes import change_event
from tidings.domain.rules import Rule, RuleDeps, dependencies, deps_from_events, evaluate, parse_contact_rule
from tidings.domain.snapshot import ContactSnapshot, EventRecord

#: how often rules that slide with time are re-evaluated by the scheduled refresher.
DEFAULT_REFRESH = timedelta(minutes=1)
MAX_CASCADE = 8
#: unprocessed events read to tell what changed for one contact
HINT_EVENTS = 1000


@dataclass(frozen=True)
class SavedSegment:
    id: int
    key: str
    rule: Rule
    deps: RuleDeps


# ----------------------------------------------------------------------------- saved rules

_cache_lock = threading.Lock()
_cache: dict[str, tuple[Rule, RuleDeps]] = {}


def _saved(rows: Iterable[StoredSegment]) -> list[SavedSegment]:
    """Parsed rules of stored segments, cached by the rule document itself (never stale)."""
    out = []
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        for r in rows:
            doc = json.dumps(r.rule, sort_keys=True)
            hit = _cache.get(doc)
            if hit is None:
                rule = parse_contact_rule(r.rule)
                hit = _cache[doc] = (rule, dependencies(rule))
            out.append(SavedSegment(r.id, r.key, hit[0], hit[1]))
    return out


def all_segments(repo: SegmentMemberships) -> list[SavedSegment]:
    return _saved(repo.saved())


def _event_row(contact_id: int, what: str, key: str, now: datetime) -> dict[str, Any]:
    """The ``segment.entered`` / ``segment.exited`` event row of one membership change."""
    return change_event(contact_id, f"segment.{what}", {"segment": key}, now, "segments")


def _record_events(
    repo: SegmentMemberships, changes: list[tuple[int, str, str]], now: datetime, enqueue: bool = True
) -> None:
    """``segment.entered`` / ``segment.exited`` events (contact, what, segment key) and the queue.

    ``enqueue=False``: the caller is the worker processing these very contacts (it re-checks
    their unprocessed events when it drops their queue rows, ``SqlEnrolments.finish_contacts``).
    """
    if changes:
        repo.record_changes([_event_row(cid, what, key, now) for cid, what, key in changes], now, enqueue=enqueue)


def _write_changes(
    repo: SegmentMemberships, segment_id: int, key: str, entered: list[int], exited: list[int], now: datetime
) -> tuple[int, int]:
    """One segment's entries and exits, in bulk; each recorded once even under concurrent refreshes."""
    done_in = repo.open_memberships([(segment_id, c) for c in entered], now) if entered else []
    done_out = repo.close_for_segment(segment_id, exited, now) if exited else []
    _record_events(repo, [(c, "entered", key) for _, c in done_in] + [(c, "exited", key) for c in done_out], now)
    return len(done_in), len(done_out)


def refresh_segment(
    store: SegmentStore, segment_id: int, now: datetime, refresh_every: timedelta | None = None
) -> tuple[int, int]:
    """Re-evaluate one segment for every contact (set-based, in the store); returns (entered, exited)."""
    with store.writing() as repo:
        return refresh_segment_in(repo, segment_id, now, refresh_every)


def refresh_segment_in(
    repo: SegmentMemberships, segment_id: int, now: datetime, refresh_every: timedelta | None = None
) -> tuple[int, int]:
    """:func:`refresh_segment` inside the caller's transaction."""
    stored = repo.saved_one(segment_id)
    if stored is None:
        return 0, 0
    seg = _saved([stored])[0]
    target = repo.matching(seg.rule, now)
    current = repo.open_members(segment_id)
    n_in, n_out = _write_changes(repo, segment_id, seg.key, sorted(target - current), sorted(current - target), now)
    next_at = now + (refresh_every or DEFAULT_REFRESH) if seg.deps.time_relative else None
    repo.mark_evaluated(segment_id, now, next_at)
    return n_in, n_out


def _hint(repo: SegmentMemberships, contact_id: int, changed: Any) -> RuleDeps | None:
    """What changed for the contact: given, or read from its unprocessed events (None = unknown)."""
    if isinstance(changed, RuleDeps):
        return changed
    if changed is not None:
        return deps_from_events(EventRecord(str(n), datetime.min) for n in changed)
    events = repo.unprocessed_events(contact_id, HINT_EVENTS)
    if not events:
        return None
    return deps_from_events(events)


def refresh_contact(
    repo: SegmentMemberships,
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
    segs = all_segments(repo)
    if not segs:
        return []
    hint = _hint(repo, contact_id, changed)
    todo = [s for s in segs if hint is None or s.deps.affected_by(hint)]
    if not todo:
        return []
    snap = snapshot or _snapshot_for(repo, contact_id, todo, segs)
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
        recorded = _write_contact_changes(repo, contact_id, [(by_key[k].id, k, w) for k, w in round_changes], now)
        for k, what in round_changes:
            (current.add if what == "entered" else current.discard)(k)
        changes.extend(recorded)
        snap = replace(snap, segments=frozenset(current))
        keys = {k for k, _ in round_changes}
        todo = [s for s in segs if s.deps.segments & keys]
    return changes


def refresh_contacts_in(
    repo: SegmentMemberships,
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
    segs = all_segments(repo)
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
        for cid, ev in _write_many_changes(repo, changes, now, enqueue):
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
    repo: SegmentMemberships, changes: list[tuple[int, int, str, str]], now: datetime, enqueue: bool
) -> list[tuple[int, EventRecord]]:
    """Entries and exits of many contacts (contact, segment id, key, what), each recorded once.

    Returns the ``segment.*`` events written: (contact, event with its id).
    """
    keys = {sid: key for _, sid, key, _ in changes}
    entered = [(sid, c) for c, sid, _, w in changes if w == "entered"]
    exited = [(c, sid) for c, sid, _, w in changes if w == "exited"]
    done: list[tuple[int, str, str]] = []
    if entered:
        done += [(cid, "entered", keys[sid]) for sid, cid in repo.open_memberships(entered, now)]
    if exited:
        done += [(cid, "exited", keys[sid]) for cid, sid in repo.close_pairs(exited, now)]
    # per contact in id order, entries before exits: the order refresh_contact writes them in
    done.sort(key=lambda d: (d[0], d[1] != "entered"))
    if not done:
        return []
    rows = [_event_row(cid, what, key, now) for cid, what, key in done]
    ids = repo.append_changes_with_ids(rows, now, enqueue=enqueue)
    return [
        (cid, EventRecord(f"segment.{what}", now, {"segment": key}, None, i))
        for (cid, what, key), i in zip(done, ids, strict=True)
    ]


def _snapshot_for(
    repo: SegmentMemberships, contact_id: int, todo: list[SavedSegment], segs: list[SavedSegment]
) -> ContactSnapshot | None:
    """Load only what the rules to check (and the ones they may cascade to) read."""
    deps = RuleDeps()
    for s in segs if any(s.deps.segments for s in segs) else todo:
        deps = deps | s.deps
    names = None if "*" in deps.events else deps.events
    return repo.snapshot(
        contact_id,
        event_names=names,
        with_events=bool(deps.events),
        with_tags=bool(deps.tags),
        with_consents=bool(deps.consents),
        with_journeys=bool(deps.journeys),
    )


def _write_contact_changes(
    repo: SegmentMemberships, contact_id: int, changes: list[tuple[int, str, str]], now: datetime
) -> list[tuple[str, str]]:
    """One contact's entries and exits (segment id, key, what); returns those actually recorded."""
    keys = {sid: key for sid, key, _ in changes}
    entered = [sid for sid, _, what in changes if what == "entered"]
    exited = [sid for sid, _, what in changes if what == "exited"]
    done: list[tuple[int, str, str]] = []
    if entered:
        opened = repo.open_memberships([(sid, contact_id) for sid in entered], now)
        done += [(contact_id, "entered", keys[sid]) for sid, _ in opened]
    if exited:
        done += [(contact_id, "exited", keys[sid]) for sid in repo.close_for_contact(contact_id, exited, now)]
    _record_events(repo, done, now)
    return [(key, what) for _, what, key in done]


def due_refreshes(repo: SegmentMemberships, now: datetime) -> list[int]:
    return repo.due_refreshes(now)
