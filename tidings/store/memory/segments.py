"""The segments ports in memory: saved segments, membership periods, rules by the domain's evaluator.

The twin of ``store/segments_sql.py``. Saved segments are ``state.segment_rules`` (key ->
rule document, as tests seed them) with their ids in ``state.segment_ids`` and the rest of
their row in ``state.segment_rows``; membership periods are ``state.segment_periods`` (open
ones also in ``state.segment_members``, which the campaign and contact twins read). A rule is
evaluated on each contact's snapshot with ``domain.rules.evaluate``, the meaning the SQL
compiler must agree with.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.domain.rules import Rule, evaluate
from tidings.domain.segments import SegmentKeyTaken, StoredSegment
from tidings.domain.snapshot import ContactSnapshot, EventRecord
from tidings.domain.statuses import EnrolmentStatus
from tidings.store.memory.state import MemoryState, MemoryStore
from tidings.store.snapshots import snapshot_from_row

#: most recent events in a snapshot (as ``store.snapshots.load_snapshot``)
MAX_EVENTS = 5000


class MemorySegments:
    """``SegmentRepository`` (memberships and definitions) on a ``MemoryStore``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _s(self) -> MemoryState:
        return self.store.state

    def _ids(self) -> dict[str, int]:
        """Segment key -> id; a seeded segment gets the next id the first time it is seen."""
        s = self._s
        for key in s.segment_rules:
            if key not in s.segment_ids:
                s.segment_ids[key] = s.next_id("segments")
        for key in [k for k in s.segment_ids if k not in s.segment_rules]:
            del s.segment_ids[key]
        return s.segment_ids

    def _key(self, segment_id: int) -> str | None:
        return next((k for k, i in self._ids().items() if i == segment_id), None)

    def _open(self) -> Iterator[dict[str, Any]]:
        return (p for p in self._s.segment_periods if p["exited_at"] is None)

    def _sync_members(self) -> None:
        keys = {i: k for k, i in self._ids().items()}
        members: dict[str, list[int]] = {k: [] for k in self._s.segment_rules}
        for p in self._open():
            key = keys.get(p["segment_id"])
            if key is not None:
                members[key].append(p["contact_id"])
        self._s.segment_members = {k: sorted(v) for k, v in members.items()}

    # ----------------------------------------------------------------- memberships

    def saved(self) -> list[StoredSegment]:
        ids = self._ids()
        out = [StoredSegment(ids[k], k, copy.deepcopy(r)) for k, r in self._s.segment_rules.items()]
        return sorted(out, key=lambda x: x.id)

    def saved_one(self, segment_id: int) -> StoredSegment | None:
        return next((x for x in self.saved() if x.id == segment_id), None)

    def matching(self, rule: Rule, now: datetime) -> set[int]:
        out = set()
        for cid in self._s.contacts:
            snap = self._snapshot(cid, None, True, True, True, True)
            if snap is not None and evaluate(rule, snap, now):
                out.add(cid)
        return out

    def open_members(self, segment_id: int) -> set[int]:
        return {p["contact_id"] for p in self._open() if p["segment_id"] == segment_id}

    def open_memberships(self, pairs: Sequence[tuple[int, int]], entered_at: datetime) -> list[tuple[int, int]]:
        have = {(p["segment_id"], p["contact_id"]) for p in self._open()}
        out: list[tuple[int, int]] = []
        for sid, cid in pairs:
            if (sid, cid) in have:
                continue
            have.add((sid, cid))
            row = {"segment_id": sid, "contact_id": cid, "entered_at": entered_at, "exited_at": None}
            self._s.segment_periods.append({"id": self._s.next_id("segment_memberships")} | row)
            out.append((sid, cid))
        self._sync_members()
        return out

    def _close(self, wanted: set[tuple[int, int]], exited_at: datetime) -> list[tuple[int, int]]:
        """Close open (contact, segment) periods; returns those closed, in period order."""
        out = []
        for p in self._open():
            if (p["contact_id"], p["segment_id"]) in wanted:
                p["exited_at"] = exited_at
                out.append((p["contact_id"], p["segment_id"]))
        self._sync_members()
        return out

    def close_for_segment(self, segment_id: int, contact_ids: Sequence[int], exited_at: datetime) -> list[int]:
        return [c for c, _ in self._close({(c, segment_id) for c in contact_ids}, exited_at)]

    def close_for_contact(self, contact_id: int, segment_ids: Collection[int], exited_at: datetime) -> list[int]:
        return [s for _, s in self._close({(contact_id, s) for s in segment_ids}, exited_at)]

    def close_pairs(self, pairs: Sequence[tuple[int, int]], exited_at: datetime) -> list[tuple[int, int]]:
        return self._close(set(pairs), exited_at)

    def record_changes(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> None:
        self.append_changes_with_ids(rows, now, enqueue=enqueue)

    def append_changes_with_ids(self, rows: Sequence[dict[str, Any]], now: datetime, *, enqueue: bool) -> list[int]:
        ids = []
        for row in rows:
            eid = self._s.next_id("events")
            self._s.events.append({"processed_at": None} | copy.deepcopy(dict(row)) | {"id": eid})
            ids.append(eid)
            if enqueue:
                self._s.queued_contacts.add(int(row["contact_id"]))
        return ids

    def mark_evaluated(self, segment_id: int, evaluated_at: datetime, next_refresh_at: datetime | None) -> None:
        key = self._key(segment_id)
        if key is None:
            return
        row = self._s.segment_rows.setdefault(key, {})
        row["evaluated_at"] = evaluated_at
        if next_refresh_at is not None:
            row["next_refresh_at"] = next_refresh_at

    def unprocessed_events(self, contact_id: int, limit: int) -> list[EventRecord]:
        rows = [e for e in self._s.events if e["contact_id"] == contact_id and e.get("processed_at") is None]
        rows.sort(key=lambda e: e["id"])
        return [EventRecord(e["name"], datetime.min, e.get("properties") or {}) for e in rows[:limit]]

    def snapshot(
        self,
        contact_id: int,
        *,
        event_names: Collection[str] | None,
        with_events: bool,
        with_tags: bool,
        with_consents: bool,
        with_journeys: bool,
    ) -> ContactSnapshot | None:
        return self._snapshot(contact_id, event_names, with_events, with_tags, with_consents, with_journeys)

    def _snapshot(
        self,
        cid: int,
        names: Collection[str] | None,
        with_events: bool,
        with_tags: bool,
        with_consents: bool,
        with_journeys: bool,
    ) -> ContactSnapshot | None:
        s = self._s
        row = s.contacts.get(cid)
        if row is None:
            return None
        tags = frozenset(s.contact_tags.get(cid, [])) if with_tags else frozenset()
        consents = {ch: str(r["status"]) for (c, ch), r in s.consents.items() if c == cid} if with_consents else {}
        events: list[EventRecord] = []
        if with_events and (names is None or names):
            mine = [e for e in s.events if e["contact_id"] == cid and (names is None or e["name"] in names)]
            mine.sort(key=lambda e: (e["occurred_at"], e["id"]), reverse=True)
            events = [
                EventRecord(e["name"], e["occurred_at"], e.get("properties") or {}, e.get("value"), e["id"])
                for e in mine[:MAX_EVENTS]
            ]
            events.reverse()
        keys = {i: k for k, i in self._ids().items()}
        segs = frozenset(
            keys[p["segment_id"]] for p in self._open() if p["contact_id"] == cid and p["segment_id"] in keys
        )
        journeys: dict[str, str] = {}
        if with_journeys:
            for _, en in sorted(s.enrollments.items()):
                j = s.journeys.get(en["journey_id"])
                if en["contact_id"] == cid and j is not None:
                    status = en["status"]
                    journeys[j["key"]] = (
                        status if status != EnrolmentStatus.ENDED else f"ended:{en.get('end_reason') or ''}"
                    )
        return snapshot_from_row(row, tags, consents, tuple(events), segs, journeys)

    def due_refreshes(self, now: datetime) -> list[int]:
        ids = self._ids()
        due = [
            (r["next_refresh_at"], ids[k])
            for k, r in self._s.segment_rows.items()
            if k in ids and r.get("next_refresh_at") is not None and r["next_refresh_at"] <= now
        ]
        return [i for _, i in sorted(due)]

    # ----------------------------------------------------------------- definitions

    def id_of(self, key: str) -> int | None:
        return self._ids().get(key)

    def row(self, key: str) -> dict[str, Any] | None:
        if key not in self._s.segment_rules:
            return None
        base = {
            "name": key,
            "description": "",
            "rule_text": "",
            "created_at": None,
            "updated_at": None,
            "evaluated_at": None,
            "next_refresh_at": None,
        }
        extra = self._s.segment_rows.get(key, {})
        return (
            base
            | copy.deepcopy(extra)
            | {"id": self._ids()[key], "key": key, "rule": copy.deepcopy(self._s.segment_rules[key])}
        )

    def insert(self, values: Mapping[str, Any]) -> int:
        key = str(values["key"])
        if key in self._s.segment_rules:
            raise SegmentKeyTaken(key)
        self._s.segment_rules[key] = copy.deepcopy(values["rule"])
        self._s.segment_rows[key] = {k: copy.deepcopy(v) for k, v in values.items() if k not in ("key", "rule")}
        self._sync_members()
        return self._ids()[key]

    def update(self, segment_id: int, values: Mapping[str, Any]) -> None:
        key = self._key(segment_id)
        if key is None:
            return
        if "rule" in values:
            self._s.segment_rules[key] = copy.deepcopy(values["rule"])
        self._s.segment_rows.setdefault(key, {}).update({k: copy.deepcopy(v) for k, v in values.items() if k != "rule"})

    def delete(self, segment_id: int) -> None:
        key = self._key(segment_id)
        self._s.segment_periods = [p for p in self._s.segment_periods if p["segment_id"] != segment_id]
        if key is not None:
            del self._s.segment_rules[key]
            self._s.segment_rows.pop(key, None)
        self._sync_members()

    def listed(self, key: str | None = None) -> list[dict[str, Any]]:
        keys = sorted(self._s.segment_rules) if key is None else [key] if key in self._s.segment_rules else []
        out = []
        for k in keys:
            row = self.row(k)
            assert row is not None
            out.append(row | {"members": len(self.open_members(row["id"]))})
        return out

    def member_page(self, segment_id: int, *, after: int, limit: int) -> list[dict[str, Any]]:
        entered = {p["contact_id"]: p["entered_at"] for p in self._open() if p["segment_id"] == segment_id}
        out = []
        for cid in sorted(c for c in entered if c > after and c in self._s.contacts)[:limit]:
            c = self._s.contacts[cid]
            out.append(
                {
                    "id": cid,
                    "email": c.get("email"),
                    "first_name": c.get("first_name"),
                    "last_name": c.get("last_name"),
                    "entered_at": entered[cid],
                }
            )
        return out

    def member_count(self, segment_id: int) -> int:
        return len(self.open_members(segment_id))

    def history(
        self, segment_id: int, *, contact_id: int | None, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = [
            {k: p[k] for k in ("id", "contact_id", "entered_at", "exited_at")}
            for p in self._s.segment_periods
            if p["segment_id"] == segment_id
            and (contact_id is None or p["contact_id"] == contact_id)
            and (before is None or p["id"] < before)
        ]
        return sorted(rows, key=lambda r: r["id"], reverse=True)[:limit]

    def preview(self, rule: Rule, now: datetime, sample: int) -> tuple[int, list[dict[str, Any]]]:
        ids = sorted(self.matching(rule, now))
        fields = ("id", "email", "first_name", "last_name", "lifecycle_stage")
        return len(ids), [{f: self._s.contacts[i].get(f) for f in fields} for i in ids[:sample]]

    def missing_names(
        self,
        *,
        attributes: Iterable[str],
        events: Iterable[str],
        tags: Iterable[str],
        segments: Iterable[str],
        journeys: Iterable[str],
    ) -> dict[str, list[str]]:
        s = self._s
        have_attrs = {a for c in s.contacts.values() for a in (c.get("attributes") or {})}
        have_events = {e["name"] for e in s.events}
        have_tags = {t for ts in s.contact_tags.values() for t in ts}
        have_journeys = {j["key"] for j in s.journeys.values()}
        return {
            "attributes": [a for a in attributes if a not in have_attrs],
            "events": [n for n in events if n not in have_events],
            "tags": [t for t in tags if t not in have_tags],
            "segments": [k for k in segments if k not in s.segment_rules],
            "journeys": [k for k in journeys if k not in have_journeys],
        }

    def version(self) -> tuple[Any, ...]:
        ids = self._ids()
        updated = [r["updated_at"] for r in self._s.segment_rows.values() if r.get("updated_at") is not None]
        return len(ids), max(ids.values(), default=None), max(updated) if updated else None


class MemorySegmentStore:
    """``SegmentStore`` on a ``MemoryStore``: a transaction is the store's lock and a copy of
    its state to go back to; rule indexes are an SQL matter (nothing to do here)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @contextlib.contextmanager
    def writing(self) -> Iterator[MemorySegments]:
        with self.store.lock:
            saved = copy.deepcopy(self.store.state)
            try:
                yield MemorySegments(self.store)
            except BaseException:
                self.store.state = saved
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[MemorySegments]:
        with self.store.lock:
            yield MemorySegments(self.store)

    def sync_rule_indexes(self, rules: Iterable[Rule]) -> tuple[list[str], list[str]] | None:
        return [], []
