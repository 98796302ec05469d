"""In-memory templates, contacts (read side), outbox, dead letters, tasks, settings, events and
journeys: twins of ``content_sql``, ``delivery_sql``, ``sales_sql`` and ``journeys``.

Rows carry every column of their SQL table (``blank_row``) and are copied in and out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.domain.statuses import TaskStatus
from tidings.store import schema
from tidings.store.memory.state import MemoryStore, blank_row

#: what the timeline shows of an event (``ContactReader.events_page``)
EVENT_FIELDS = ("id", "name", "properties", "occurred_at", "received_at", "message_id", "source", "value")


def _copy(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return copy.deepcopy(dict(row)) if row is not None else None


class MemoryTemplates:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _find(self, key: str, locale: str) -> dict[str, Any] | None:
        rows = self.store.state.templates.values()
        return next((r for r in rows if r["key"] == key and r["locale"] == locale), None)

    def get(self, key: str, locale: str) -> dict[str, Any] | None:
        return _copy(self._find(key, locale))

    def variants(self, key: str, locales: Sequence[str]) -> list[dict[str, Any]]:
        rows = self.store.state.templates.values()
        return [copy.deepcopy(r) for r in rows if r["key"] == key and r["locale"] in locales]

    def upsert(self, key: str, locale: str, values: Mapping[str, Any]) -> None:
        row = self._find(key, locale)
        if row is None:
            s = self.store.state
            tid = s.next_id("templates")
            row = blank_row(schema.templates) | {"id": tid, "key": key, "locale": locale}
            row["created_at"] = values["updated_at"]
            s.templates[tid] = row
        row.update(copy.deepcopy(dict(values)))

    def all(self, channel: str | None = None) -> list[dict[str, Any]]:
        rows = [r for r in self.store.state.templates.values() if not channel or r["channel"] == channel]
        return [copy.deepcopy(r) for r in sorted(rows, key=lambda r: (r["key"], r["locale"]))]

    def delete(self, key: str, locale: str | None = None) -> int:
        s = self.store.state
        gone = [i for i, r in s.templates.items() if r["key"] == key and (locale is None or r["locale"] == locale)]
        for i in gone:
            del s.templates[i]
        return len(gone)

    def keys(self) -> set[str]:
        return {r["key"] for r in self.store.state.templates.values()}


class MemoryContactReader:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get(self, contact_id: int) -> dict[str, Any] | None:
        return _copy(self.store.state.contacts.get(contact_id))

    def tags(self, contact_id: int) -> list[str]:
        return list(self.store.state.contact_tags.get(contact_id, []))

    def id_by(self, field: str, value: str) -> int | None:
        if field not in ("email", "phone", "external_id"):
            raise ValueError(f"not an identifier: {field!r}")
        return next((cid for cid, c in sorted(self.store.state.contacts.items()) if c.get(field) == value), None)

    def any_contact(self) -> bool:
        return bool(self.store.state.contacts)

    def any_with_attribute(self, name: str) -> bool:
        return any(name in (c.get("attributes") or {}) for c in self.store.state.contacts.values())

    def events_page(
        self, contact_id: int, *, name: str | None, before: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = [
            e
            for e in self.store.state.events
            if e["contact_id"] == contact_id
            and (not name or e["name"] == name)
            and (before is None or (e["occurred_at"], e["id"]) < before)
        ]
        rows.sort(key=lambda e: (e["occurred_at"], e["id"]), reverse=True)
        return [{k: copy.deepcopy(e.get(k)) for k in EVENT_FIELDS} for e in rows[:limit]]


class MemoryConsents:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get(self, contact_id: int, channel: str) -> dict[str, Any] | None:
        return _copy(self.store.state.consents.get((contact_id, channel)))

    def of_contact(self, contact_id: int) -> list[dict[str, Any]]:
        rows = self.store.state.consents
        return [copy.deepcopy(rows[k]) for k in sorted(rows) if k[0] == contact_id]

    def add(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        key = (contact_id, channel)
        if key in self.store.state.consents:
            raise KeyError(f"consent {key} exists")  # the SQL twin's primary key refuses it too
        row = blank_row(schema.consents) | {"topics": {}} | copy.deepcopy(dict(values))
        self.store.state.consents[key] = row | {"contact_id": contact_id, "channel": channel}

    def update(self, contact_id: int, channel: str, values: Mapping[str, Any]) -> None:
        row = self.store.state.consents.get((contact_id, channel))
        if row is not None:
            row.update(copy.deepcopy(dict(values)))


class MemoryOutbox:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def enqueue(self, contact_id: int, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        s = self.store.state
        for row in rows:
            if self.by_idempotency_key(str(row["idempotency_key"])) is not None:
                continue
            oid = s.next_id("outbox")
            base = blank_row(schema.outbox) | {"id": oid, "contact_id": contact_id, "status": "pending"}
            s.outbox[oid] = base | {"next_attempt_at": now, "created_at": now} | copy.deepcopy(dict(row))

    def by_idempotency_key(self, key: str) -> dict[str, Any] | None:
        rows = self.store.state.outbox.values()
        return _copy(next((r for r in rows if r["idempotency_key"] == key), None))

    def get(self, outbox_id: int) -> dict[str, Any] | None:
        return _copy(self.store.state.outbox.get(outbox_id))

    def _set(self, outbox_id: int, **values: Any) -> None:
        row = self.store.state.outbox.get(outbox_id)
        if row is not None:
            row.update(values)

    def mark_dead(self, outbox_id: int, reason: str) -> None:
        self._set(outbox_id, status="dead", error=reason, lease_owner=None, lease_until=None)

    def skip_pending_marketing(self, contact_id: int, channel: str, reason: str) -> int:
        skipped = 0
        for o in self.store.state.outbox.values():
            mine = (o["contact_id"], o["channel"], o["kind"]) == (contact_id, channel, "message")
            if mine and o["status"] == "pending" and o["category"] != "transactional":
                o.update(status="skipped", error=reason, lease_owner=None, lease_until=None)
                skipped += 1
        return skipped

    def requeue(self, outbox_id: int, now: datetime) -> None:
        self._set(
            outbox_id, status="pending", attempts=0, next_attempt_at=now, error=None, lease_owner=None, lease_until=None
        )


_OUTBOX_IN_LISTING = ("kind", "channel", "status", "attempts", "payload", "step_id", "journey_id", "recipient", "error")


class MemoryDeadLetters:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def record(self, outbox_id: int, contact_id: int, reason: str, now: datetime) -> None:
        s = self.store.state
        row = next((r for r in s.dead_letters.values() if r["outbox_id"] == outbox_id), None)
        if row is None:
            did = s.next_id("dead_letters")
            s.dead_letters[did] = blank_row(schema.dead_letters) | {
                "id": did,
                "outbox_id": outbox_id,
                "contact_id": contact_id,
                "reason": reason,
                "created_at": now,
            }
        else:
            row.update(reason=reason, created_at=now, retried_at=None)

    def get(self, dead_letter_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        return _copy(self.store.state.dead_letters.get(dead_letter_id))

    def listing(self, *, include_decided: bool, limit: int) -> list[dict[str, Any]]:
        s = self.store.state
        out: list[dict[str, Any]] = []
        for did in sorted(s.dead_letters, reverse=True):
            row = s.dead_letters[did]
            if not include_decided and (row["retried_at"] is not None or row["discarded_at"] is not None):
                continue
            outbox = s.outbox.get(row["outbox_id"]) or {}
            out.append(copy.deepcopy(row | {k: outbox.get(k) for k in _OUTBOX_IN_LISTING}))
            if len(out) >= limit:
                break
        return out

    def mark_retried(self, dead_letter_id: int, now: datetime) -> None:
        if dead_letter_id in self.store.state.dead_letters:
            self.store.state.dead_letters[dead_letter_id]["retried_at"] = now

    def mark_discarded(self, dead_letter_id: int, now: datetime) -> None:
        if dead_letter_id in self.store.state.dead_letters:
            self.store.state.dead_letters[dead_letter_id]["discarded_at"] = now


class MemoryTasks:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, values: Mapping[str, Any]) -> int:
        s = self.store.state
        tid = s.next_id("tasks")
        s.tasks[tid] = blank_row(schema.tasks) | copy.deepcopy(dict(values)) | {"id": tid}
        return tid

    def get(self, task_id: int) -> dict[str, Any] | None:
        return _copy(self.store.state.tasks.get(task_id))

    def by_outbox(self, outbox_id: int) -> dict[str, Any] | None:
        rows = self.store.state.tasks.values()
        return _copy(next((r for r in sorted(rows, key=lambda r: r["id"]) if r["outbox_id"] == outbox_id), None))

    def update(self, task_id: int, values: Mapping[str, Any]) -> None:
        row = self.store.state.tasks.get(task_id)
        if row is not None:
            row.update(copy.deepcopy(dict(values)))

    def search(
        self,
        *,
        owner: str | None = None,
        status: str | None = None,
        team: str | None = None,
        contact_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        wanted = {"owner": owner, "status": status, "team": team, "contact_id": contact_id}
        rows = [
            r
            for r in self.store.state.tasks.values()
            if all(v is None or r[k] == v for k, v in wanted.items())
        ]
        rows.sort(key=lambda r: (r["due_at"] is None, r["due_at"] or datetime.min.replace(tzinfo=None), r["id"]))
        return [copy.deepcopy(r) for r in rows[:limit]]

    def open_counts(self, owners: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(owners, 0)
        for r in self.store.state.tasks.values():
            if r["status"] == TaskStatus.OPEN and r["owner"] in counts:
                counts[r["owner"]] += 1
        return counts

    def escalation_candidates(self, team: str, due_before: datetime, limit: int = 500) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self.store.state.tasks.values()
            if r["status"] == TaskStatus.OPEN and r["team"] == team and r.get("escalated_at") is None
            and r["due_at"] is not None and r["due_at"] <= due_before
        ]
        rows.sort(key=lambda r: (r["due_at"], r["id"]))
        return [copy.deepcopy(r) for r in rows[:limit]]

    def mark_escalated(self, task_id: int, now: datetime, to: str | None, owner: str | None = None) -> bool:
        row = self.store.state.tasks.get(task_id)
        if row is None or row["status"] != TaskStatus.OPEN or row.get("escalated_at") is not None:
            return False
        row.update({"escalated_at": now, "escalated_to": to} | ({"owner": owner} if owner is not None else {}))
        return True


class MemorySettings:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get(self, key: str) -> Any:
        return copy.deepcopy(self.store.state.settings.get(key))

    def put(self, key: str, value: Any, now: datetime) -> None:
        self.store.state.settings[key] = copy.deepcopy(value)

    def lock(self, key: str, default: Any, now: datetime) -> Any:
        settings = self.store.state.settings
        if key not in settings:
            settings[key] = copy.deepcopy(default)
        return copy.deepcopy(settings[key])


class MemoryEventLog:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def append_changes(self, events: Sequence[Mapping[str, Any]], now: datetime) -> None:
        s = self.store.state
        for event in events:
            s.events.append({"id": s.next_id("events")} | copy.deepcopy(dict(event)))
            s.queued_contacts.add(int(event["contact_id"]))

    def has_message_id(self, message_id: str) -> bool:
        return any(e.get("message_id") == message_id for e in self.store.state.events)


class MemorySuppressions:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def has(self, channel: str, address: str) -> bool:
        return (channel, address) in self.store.state.suppressions

    def add(self, channel: str, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        if self.has(channel, address):
            return False
        row = {"channel": channel, "address": address, "reason": reason, "detail": copy.deepcopy(dict(detail))}
        self.store.state.suppressions[(channel, address)] = row | {"created_at": now}
        return True

    def lift(self, channel: str, address: str, reason: str) -> None:
        row = self.store.state.suppressions.get((channel, address))
        if row is not None and row["reason"] == reason:
            del self.store.state.suppressions[(channel, address)]


class MemoryJourneys:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _find(self, key: str) -> dict[str, Any] | None:
        return next((j for j in self.store.state.journeys.values() if j["key"] == key), None)

    def get(self, key: str, *, for_update: bool = False) -> dict[str, Any] | None:
        return _copy(self._find(key))

    def get_by_id(self, journey_id: int) -> dict[str, Any] | None:
        return _copy(self.store.state.journeys.get(journey_id))

    def all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(j) for j in sorted(self.store.state.journeys.values(), key=lambda j: j["key"])]

    def add(self, key: str, name: str, draft: str | None, now: datetime) -> int:
        s = self.store.state
        if self._find(key) is not None:
            raise ValueError(f"journeys.key must be unique: {key!r} exists")
        jid = s.next_id("journeys")
        s.journeys[jid] = blank_row(schema.journeys) | {
            "id": jid,
            "key": key,
            "name": name,
            "status": "draft",
            "draft_source": draft,
            "created_at": now,
            "updated_at": now,
        }
        return jid

    def update(self, journey_id: int, now: datetime, **values: Any) -> None:
        row = self.store.state.journeys.get(journey_id)
        if row is not None:
            row.update(copy.deepcopy(values) | {"updated_at": now})

    def versions(self, journey_id: int) -> list[dict[str, Any]]:
        rows = [v for (jid, _), v in sorted(self.store.state.journey_versions.items()) if jid == journey_id]
        return [{k: v[k] for k in ("version", "checksum", "published_at", "published_by")} for v in rows]

    def get_version(self, journey_id: int, version: int) -> dict[str, Any] | None:
        return _copy(self.store.state.journey_versions.get((journey_id, version)))

    def add_version(
        self,
        journey_id: int,
        version: int,
        *,
        document: Mapping[str, Any],
        source: str,
        checksum: str,
        now: datetime,
        by: str | None,
    ) -> None:
        versions = self.store.state.journey_versions
        if (journey_id, version) in versions:
            raise ValueError(f"journey_versions: version {version} of journey {journey_id} exists")
        versions[(journey_id, version)] = blank_row(schema.journey_versions) | {
            "journey_id": journey_id,
            "version": version,
            "document": copy.deepcopy(dict(document)),
            "source": source,
            "checksum": checksum,
            "published_at": now,
            "published_by": by,
        }
