"""The in-memory twin of ``store/inbox_sql.py`` (the ``InboxRepository`` port)."""

from __future__ import annotations

from datetime import datetime

from tidings.domain.channels import InboxItem
from tidings.store.memory.state import MemoryStore


class MemoryInbox:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def record(self, item: InboxItem, now: datetime) -> int:
        state = self.store.state
        inbox_id = state.next_id("inbox")
        state.inbox[inbox_id] = {
            "id": inbox_id,
            "channel": item.channel,
            "sender": item.sender,
            "recipient": item.recipient,
            "subject": item.subject,
            "body_text": item.body_text,
            "body_html": item.body_html,
            "headers": dict(item.headers),
            "raw": item.raw,
            "message_ref": item.message_ref,
            "received_at": now,
        }
        return inbox_id

    def has(self, channel: str, message_ref: str) -> bool:
        return any(
            r["channel"] == channel and r["message_ref"] == message_ref for r in self.store.state.inbox.values()
        )

    def raw_messages(self, channel: str) -> list[str]:
        rows = sorted(self.store.state.inbox.values(), key=lambda r: int(r["id"]))
        return [str(r["raw"]) for r in rows if r["channel"] == channel and r["raw"] is not None]
