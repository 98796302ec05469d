"""In-memory twin of ``store/feedback_sql.py`` (the ``FeedbackRepository`` port): bounce and
complaint rows, the suppressions they add, the sending domains' counts and pauses."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tidings.store import schema
from tidings.store.memory.enrolments import MemoryEnrolments
from tidings.store.memory.state import MemoryStore, blank_row

#: the outbox statuses that count as sent for a domain's volume
_SENT = ("sent", "delivered")


def row_for_ref(store: MemoryStore, message_ref: str | None) -> dict[str, Any] | None:
    """The outbox row of our Message-ID (the twin of ``store/outbox.row_for_ref``)."""
    if not message_ref:
        return None
    ref = message_ref.strip().strip("<>")
    rows = store.state.outbox
    row = next((rows[i] for i in sorted(rows) if rows[i]["provider_message_id"] == ref), None)
    if row is None:
        head = ref.split(".", 1)[0]
        if head.isdigit():
            row = rows.get(int(head))
            if row is not None and (row["rendered"] or {}).get("message_ref") != ref:
                row = None  # a forged or foreign id that only happens to start with a number
    return copy.deepcopy(row) if row is not None else None


class MemoryFeedback:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    # ----------------------------------------------------------------- feedback rows

    def seen(self, ref: str) -> bool:
        return any(r["ref"] == ref for r in self.store.state.feedback.values())

    def message_for_ref(self, message_ref: str | None) -> dict[str, Any] | None:
        return row_for_ref(self.store, message_ref)

    def contact_by_email(self, address: str) -> int | None:
        contacts = self.store.state.contacts
        return next((cid for cid in sorted(contacts) if (contacts[cid]["email"] or "").lower() == address), None)

    def add(self, values: Mapping[str, Any]) -> None:
        s = self.store.state
        ref = values.get("ref")
        if ref is not None and self.seen(str(ref)):
            raise KeyError(f"feedback ref {ref!r} exists")  # the SQL twin's unique index refuses it too
        fid = s.next_id("feedback")
        s.feedback[fid] = blank_row(schema.feedback) | copy.deepcopy(dict(values)) | {"id": fid}

    def soft_bounces_since(self, address: str, since: datetime, kind: str) -> int:
        rows = self.store.state.feedback.values()
        return sum(1 for r in rows if r["address"] == address and r["kind"] == kind and r["received_at"] >= since)

    def suppress(self, address: str, reason: str, detail: Mapping[str, Any], now: datetime) -> bool:
        suppressions = self.store.state.suppressions
        if ("email", address) in suppressions:
            return False
        row = {"channel": "email", "address": address, "reason": reason, "detail": copy.deepcopy(dict(detail))}
        suppressions[("email", address)] = row | {"created_at": now}
        return True

    def record_events(self, events: Iterable[dict[str, Any]], now: datetime) -> None:
        s = self.store.state
        rows = list(events)
        for event in rows:
            s.events.append(blank_row(schema.events) | copy.deepcopy(event) | {"id": s.next_id("events")})
        MemoryEnrolments(self.store).enqueue((int(r["contact_id"]) for r in rows), now)

    # ----------------------------------------------------------------- sending domains

    def domain(self, domain: str) -> dict[str, Any] | None:
        row = self.store.state.sending_domains.get(domain)
        return copy.deepcopy(row) if row is not None else None

    def sent_since(self, domain: str, since: datetime) -> int:
        suffix = f"@{domain.lower()}"  # as the SQL: the Message-ID's case does not matter
        return sum(
            1
            for r in self.store.state.outbox.values()
            if r["channel"] == "email"
            and r["sent_at"] is not None
            and r["sent_at"] >= since
            and r["status"] in _SENT
            and str(r["provider_message_id"] or "").lower().endswith(suffix)
        )

    def kinds_since(self, domain: str, since: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.store.state.feedback.values():
            if r["sending_domain"] == domain and r["received_at"] >= since:
                out[str(r["kind"])] = out.get(str(r["kind"]), 0) + 1
        return out

    def save_domain(self, domain: str, values: Mapping[str, Any]) -> None:
        domains = self.store.state.sending_domains
        row = domains.get(domain)
        if row is None:
            domains[domain] = blank_row(schema.sending_domains) | copy.deepcopy(dict(values)) | {"domain": domain}
        else:
            row.update(copy.deepcopy(dict(values)))

    def paused_domains(self) -> set[str]:
        return {d for d, r in self.store.state.sending_domains.items() if r["status"] == "paused"}

    def list_domains(self) -> list[dict[str, Any]]:
        domains = self.store.state.sending_domains
        return [copy.deepcopy(domains[d]) for d in sorted(domains)]

    def give_back_attempt(self, outbox_id: int) -> None:
        row = self.store.state.outbox.get(outbox_id)
        if row is not None and row["attempts"] > 0:
            row["attempts"] -= 1
