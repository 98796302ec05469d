"""The in-memory twin of ``store/campaigns_sql.py`` (the ``CampaignRepository`` port)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tidings.store import schema
from tidings.store.memory.state import MemoryStore, blank_row

LIVE = ("pending", "sending", "sent", "delivered")


class MemoryCampaigns:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, values: Mapping[str, Any]) -> int:
        s = self.store.state
        if any(c["key"] == values["key"] for c in s.campaigns.values()):
            raise KeyError(f"campaign {values['key']!r} exists")  # the SQL unique key, as an error
        cid = s.next_id("campaigns")
        s.campaigns[cid] = blank_row(schema.campaigns) | copy.deepcopy(dict(values)) | {"id": cid}
        return cid

    def get(self, key: str) -> dict[str, Any] | None:
        row = next((c for c in self.store.state.campaigns.values() if c["key"] == key), None)
        return copy.deepcopy(row) if row is not None else None

    def update(self, campaign_id: int, values: Mapping[str, Any]) -> None:
        row = self.store.state.campaigns.get(campaign_id)
        if row is not None:
            row.update(copy.deepcopy(dict(values)))

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = sorted(self.store.state.campaigns.values(), key=lambda c: -c["id"])[:limit]
        return copy.deepcopy(rows)

    def due(self, now: datetime) -> list[dict[str, Any]]:
        rows = [
            c
            for c in self.store.state.campaigns.values()
            if (c["status"] == "scheduled" and c["start_at"] is not None and c["start_at"] <= now)
            or c["status"] == "sending"
        ]
        return copy.deepcopy(sorted(rows, key=lambda c: c["id"]))

    def audience(self, segment: str) -> list[tuple[int, str | None]]:
        s = self.store.state
        ids = sorted(set(s.segment_members.get(segment, [])) & set(s.contacts))
        return [(i, s.contacts[i].get("timezone")) for i in ids]

    def audience_count(self, segment: str) -> int:
        return len(self.audience(segment))

    def segment_exists(self, segment: str) -> bool:
        s = self.store.state
        return segment in s.segment_members or segment in s.segment_rules

    def freeze(self, campaign_id: int, recipients: Sequence[Mapping[str, Any]]) -> None:
        rows = self.store.state.campaign_recipients
        for r in recipients:
            key = (campaign_id, int(r["contact_id"]))
            if key not in rows:
                rows[key] = {"contact_id": key[1], "variant": r.get("variant"), "send_at": r.get("send_at"),
                             "outbox_id": None}

    def _of(self, campaign_id: int) -> list[dict[str, Any]]:
        rows = self.store.state.campaign_recipients
        return [rows[k] for k in sorted(rows) if k[0] == campaign_id]

    def recipients(self, campaign_id: int, *, waiting: bool = False) -> list[dict[str, Any]]:
        return copy.deepcopy([r for r in self._of(campaign_id) if not waiting or r["variant"] is None])

    def unqueued(self, campaign_id: int, now: datetime, limit: int) -> list[dict[str, Any]]:
        rows = [r for r in self._of(campaign_id) if r["outbox_id"] is None and r["variant"] is not None]
        rows.sort(key=lambda r: (r["send_at"], r["contact_id"]))
        return copy.deepcopy(rows[:limit])

    def assign(self, campaign_id: int, slots: Sequence[tuple[int, str, datetime]]) -> None:
        rows = self.store.state.campaign_recipients
        for contact, variant, at in slots:
            if (campaign_id, contact) in rows:
                rows[(campaign_id, contact)].update(variant=variant, send_at=at)

    def outbox_ids(self, keys: Sequence[str]) -> dict[str, int]:
        wanted = set(keys)
        return {o["idempotency_key"]: o["id"] for o in self.store.state.outbox.values()
                if o["idempotency_key"] in wanted}

    def mark_queued(self, campaign_id: int, queued: Sequence[tuple[int, int]]) -> None:
        rows = self.store.state.campaign_recipients
        for contact, oid in queued:
            if (campaign_id, contact) in rows:
                rows[(campaign_id, contact)]["outbox_id"] = oid

    def latest_slots(self, campaign_id: int, limit: int) -> list[datetime]:
        slots = sorted(r["send_at"] for r in self._of(campaign_id) if r["send_at"] is not None)
        return slots[-limit:] if limit else []

    def progress(self, campaign_id: int) -> dict[str, int]:
        out: dict[str, int] = {"audience": 0, "waiting": 0}
        outbox = self.store.state.outbox
        for r in self._of(campaign_id):
            row = outbox.get(r["outbox_id"]) if r["outbox_id"] is not None else None
            key = str(row["status"]) if row is not None else "waiting"
            out["audience"] += 1
            out[key] = out.get(key, 0) + 1
        return out

    def variant_counts(self, campaign_id: int, first_kind: str) -> dict[str, tuple[int, int]]:
        s = self.store.state
        out: dict[str, tuple[int, int]] = {}
        for r in self._of(campaign_id):
            row = s.outbox.get(r["outbox_id"]) if r["outbox_id"] is not None else None
            if row is None or row["status"] not in ("sent", "delivered"):
                continue
            n, k = out.get(str(r["variant"]), (0, 0))
            out[str(r["variant"])] = (n + 1, k + ((r["outbox_id"], first_kind) in s.analytics_firsts))
        return out

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        wanted = set(contact_ids)
        return [
            {"contact_id": o["contact_id"], "channel": o["channel"], "category": o["category"],
             "at": o["sent_at"] or o["next_attempt_at"]}
            for o in self.store.state.outbox.values()
            if o["contact_id"] in wanted and o["kind"] == "message" and o["status"] in LIVE
            and o["created_at"] >= since
        ]

    def skip_pending(self, campaign_id: int, reason: str) -> int:
        outbox, n = self.store.state.outbox, 0
        for r in self._of(campaign_id):
            row = outbox.get(r["outbox_id"]) if r["outbox_id"] is not None else None
            if row is not None and row["status"] == "pending":
                row.update(status="skipped", error=reason)
                n += 1
        return n
