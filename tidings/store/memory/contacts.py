"""The in-memory twin of ``store/identity_sql.SqlContacts`` (the ``ContactRecords`` port)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tidings.domain.contacts import ContactFilter
from tidings.store import schema
from tidings.store.memory.records import MemoryContactReader
from tidings.store.memory.state import MemoryState, blank_row

UNIQUE = ("external_id", "email", "phone")


def _owned_by(obj: Any, ids: set[int]) -> bool:
    value = obj.get("contact_id") if isinstance(obj, dict) else getattr(obj, "contact_id", None)
    return value is not None and int(value) in ids


def _moved(obj: Any, target: int) -> Any:
    if isinstance(obj, dict):
        obj["contact_id"] = target
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and hasattr(obj, "contact_id"):
        return dataclasses.replace(obj, contact_id=target)
    return obj


def _matches(c: Mapping[str, Any], tags: list[str], f: ContactFilter) -> bool:
    if f.tag and f.tag not in tags:
        return False
    if f.stage and c.get("lifecycle_stage") != f.stage:
        return False
    if f.owner and c.get("owner") != f.owner:
        return False
    if f.q:
        text = f.q.strip().lower()
        hit = (
            text in (c.get("email") or "")
            or text in (c.get("first_name") or "").lower()
            or text in (c.get("last_name") or "").lower()
            or c.get("external_id") == f.q.strip()
        )
        if not hit:
            return False
    if f.created_after and not c["created_at"] >= f.created_after:
        return False
    if f.created_before and not c["created_at"] < f.created_before:
        return False
    return f.include_anonymous or not c.get("anonymous")


class MemoryContacts(MemoryContactReader):
    @property
    def _s(self) -> MemoryState:
        return self.store.state

    # ------------------------------------------------------------------ identifiers

    def id_by(self, field: str, value: Any) -> int | None:
        if field == "id":
            return int(value) if int(value) in self._s.contacts else None
        return super().id_by(field, value)

    def alias_owner(self, kind: str, value: str) -> int | None:
        row = self._s.contact_aliases.get((kind, value))
        return int(row["contact_id"]) if row is not None else None

    def add_alias(self, kind: str, value: str, contact_id: int, now: datetime) -> None:
        row = {"kind": kind, "value": value, "contact_id": contact_id, "created_at": now}
        self._s.contact_aliases.setdefault((kind, value), row)

    # ------------------------------------------------------------------ rows

    def insert(self, row: Mapping[str, Any]) -> int | None:
        for field in UNIQUE:
            if row.get(field) is not None and self.id_by(field, row[field]) is not None:
                return None
        cid = self._s.next_id("contacts")
        self._s.contacts[cid] = blank_row(schema.contacts) | copy.deepcopy(dict(row)) | {"id": cid}
        self._s.contact_tags[cid] = []
        return cid

    def update(self, contact_id: int, values: Mapping[str, Any]) -> None:
        row = self._s.contacts.get(contact_id)
        if row is None:
            return
        for field in UNIQUE:
            v = values.get(field)
            if v is not None and self.id_by(field, v) not in (None, contact_id):
                raise ValueError(f"contacts.{field} must be unique: {v!r} is taken")
        row.update(copy.deepcopy(dict(values)))

    def delete(self, contact_ids: Iterable[int]) -> int:
        ids = {int(i) for i in contact_ids}
        s = self._s
        for name in ("outbox", "dead_letters", "tasks", "enrollments", "timers", "form_submissions"):
            table: dict[Any, Any] = getattr(s, name)
            for key in [k for k, v in table.items() if _owned_by(v, ids)]:
                del table[key]
        for name in ("events", "traces", "score_history"):
            setattr(s, name, [r for r in getattr(s, name) if not _owned_by(r, ids)])
        for key in [k for k in s.consents if k[0] in ids]:
            del s.consents[key]
        for key2 in [k for k in s.contact_scores if k[0] in ids]:
            del s.contact_scores[key2]
        for key in [k for k in s.campaign_recipients if int(k[1]) in ids]:
            del s.campaign_recipients[key]
        for key in [k for k, v in s.contact_aliases.items() if int(v["contact_id"]) in ids]:
            del s.contact_aliases[key]
        for key, members in s.segment_members.items():
            s.segment_members[key] = [m for m in members if m not in ids]
        s.queued_contacts -= ids
        gone = 0
        for cid in ids:
            s.contact_tags.pop(cid, None)
            gone += s.contacts.pop(cid, None) is not None
        return gone

    def move_rows(self, source_id: int, target_id: int) -> None:
        s = self._s
        for (cid, channel), row in list(s.consents.items()):
            if cid != source_id:
                continue
            del s.consents[(cid, channel)]
            mine = s.consents.get((target_id, channel))
            if mine is None or row["recorded_at"] > mine["recorded_at"]:  # the newer decision wins
                s.consents[(target_id, channel)] = row | {"contact_id": target_id}
        tags = s.contact_tags.get(target_id, [])
        s.contact_tags[target_id] = tags + [t for t in s.contact_tags.pop(source_id, []) if t not in tags]
        for name in ("outbox", "dead_letters", "tasks", "enrollments", "timers", "form_submissions"):
            table: dict[Any, Any] = getattr(s, name)
            for key, value in table.items():
                if _owned_by(value, {source_id}):
                    table[key] = _moved(value, target_id)
        for name in ("events", "traces", "score_history"):
            setattr(s, name, [_moved(r, target_id) if _owned_by(r, {source_id}) else r for r in getattr(s, name)])
        for (cid, model), score in list(s.contact_scores.items()):
            if cid == source_id:
                del s.contact_scores[(cid, model)]
                s.contact_scores.setdefault((target_id, model), _moved(score, target_id))
        for (campaign, cid), row in list(s.campaign_recipients.items()):
            if cid == source_id:
                del s.campaign_recipients[(campaign, cid)]
                s.campaign_recipients.setdefault((campaign, target_id), _moved(row, target_id))
        for row in s.contact_aliases.values():
            if int(row["contact_id"]) == source_id:
                row["contact_id"] = target_id
        for key, members in s.segment_members.items():
            if source_id in members:
                rest = [m for m in members if m != source_id]
                s.segment_members[key] = rest if target_id in rest else rest + [target_id]
        s.queued_contacts.discard(source_id)  # one row per contact: the target's stays

    # ------------------------------------------------------------------ tags

    def add_tags(self, contact_id: int, tags: Iterable[str], now: datetime) -> None:
        have = self._s.contact_tags.setdefault(contact_id, [])
        have.extend(t for t in tags if t not in have)

    def remove_tags(self, contact_id: int, tags: Iterable[str]) -> None:
        gone = set(tags)
        self._s.contact_tags[contact_id] = [t for t in self._s.contact_tags.get(contact_id, []) if t not in gone]

    # ------------------------------------------------------------------ reads

    def many(self, ids: list[int]) -> list[dict[str, Any]]:
        s = self._s
        out = []
        for cid in ids:
            row = s.contacts.get(cid)
            if row is None:
                continue
            consent = {
                ch: {
                    k: copy.deepcopy(r.get(k))
                    for k in ("status", "source", "recorded_at", "proof", "topics", "paused_until")
                }
                for (c, ch), r in s.consents.items()
                if c == cid
            }
            out.append(copy.deepcopy(row) | {"tags": sorted(s.contact_tags.get(cid, [])), "consent": consent})
        return out

    def page_ids(self, f: ContactFilter, *, after: int, limit: int) -> list[int]:
        s = self._s
        hits = [
            cid
            for cid in sorted(s.contacts)
            if cid > after and _matches(s.contacts[cid], s.contact_tags.get(cid, []), f)
        ]
        return hits[:limit]

    def matching(self, ids: Iterable[int], f: ContactFilter) -> set[int]:
        s = self._s
        return {cid for cid in ids if cid in s.contacts and _matches(s.contacts[cid], s.contact_tags.get(cid, []), f)}
