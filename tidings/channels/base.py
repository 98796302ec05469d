"""Local sinks: the ``inbox`` table every channel can "send" to on a machine with nothing installed.

The provider interface they implement is the sender port, ``tidings.application.ports.senders``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.ports.senders import DeliveryResult, OutgoingMessage
from tidings.store import schema


@dataclass(frozen=True)
class InboxItem:
    """What a local sink received: a row of the ``inbox`` table (the web inbox)."""

    channel: str
    recipient: str | None
    sender: str | None = None
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    message_ref: str | None = None


def record_in_inbox(engine: sa.Engine, item: InboxItem, now: datetime) -> int:
    """Store what a local sink received. Every sink (email catcher, SMS, voice, letters,
    webhooks) records through this one function so the web inbox shows every channel alike."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(schema.inbox).values(
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
        assert key is not None
        return int(key[0])


def inbox_has(engine: sa.Engine, channel: str, message_ref: str) -> bool:
    """Did a local sink receive this message? (``confirm`` for sinks.)"""
    t = schema.inbox
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.c.id).where(t.c.channel == channel, t.c.message_ref == message_ref).limit(1)
        ).first()
    return row is not None


class SinkProvider:
    """A base for local sinks: ``to_inbox`` says what to store; send records it and accepts.

    Subclasses set ``channel`` and override ``to_inbox``. Recording goes through a thread so a
    sink never blocks the delivery loop's event loop on the database.
    """

    channel: str = ""
    name: str = "sink"

    def __init__(self, engine: sa.Engine, clock: Any) -> None:
        self.engine = engine
        self.clock = clock

    def to_inbox(self, msg: OutgoingMessage) -> InboxItem:
        return InboxItem(
            channel=self.channel,
            recipient=msg.recipient,
            sender=msg.sender,
            subject=msg.subject,
            body_text=msg.text,
            body_html=msg.html,
            headers=dict(msg.headers),
            message_ref=msg.message_ref,
        )

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        import asyncio

        item = self.to_inbox(msg)
        inbox_id = await asyncio.to_thread(record_in_inbox, self.engine, item, self.clock.now())
        return DeliveryResult.accepted(f"inbox-{inbox_id}")

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        import asyncio

        return await asyncio.to_thread(inbox_has, self.engine, self.channel, msg.message_ref)

    async def aclose(self) -> None:
        return None
