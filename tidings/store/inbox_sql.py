"""The local sinks' inbox (table ``inbox``): the ``InboxRepository`` port (twin ``memory/inbox.py``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from tidings.domain.channels import InboxItem
from tidings.store import schema

I = schema.inbox  # noqa: E741


class SqlInbox:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record(self, item: InboxItem, now: datetime) -> int:
        result = self.conn.execute(
            sa.insert(I).values(
                channel=item.channel,
                sender=item.sender,
                recipient=item.recipient,
                subject=item.subject,
                body_text=item.body_text,
                body_html=item.body_html,
                headers=dict(item.headers),
                raw=item.raw,
                message_ref=item.message_ref,
                received_at=now,
            )
        )
        key = result.inserted_primary_key
        if key is None:
            raise RuntimeError("the inbox insert returned no id")
        return int(key[0])

    def has(self, channel: str, message_ref: str) -> bool:
        q = sa.select(I.c.id).where(I.c.channel == channel, I.c.message_ref == message_ref).limit(1)
        return self.conn.execute(q).first() is not None

    def raw_messages(self, channel: str) -> list[str]:
        q = sa.select(I.c.raw).where(I.c.channel == channel, I.c.raw.is_not(None)).order_by(I.c.id)
        return [str(raw) for raw in self.conn.execute(q).scalars()]
