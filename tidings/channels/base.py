"""Local sinks: the ``inbox`` table every channel can "send" to on a machine with nothing installed.

The provider interface they implement is the sender port, ``tidings.application.ports.senders``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.application.ports.senders import DeliveryResult, OutgoingMessage
from tidings.domain.channels import InboxItem
from tidings.store.sql_uow import SqlUnitOfWork

if TYPE_CHECKING:
    from datetime import datetime

    from tidings.store.db import Engine

__all__ = ["InboxItem", "SinkProvider", "inbox_has", "record_in_inbox"]


def record_in_inbox(engine: Engine, item: InboxItem, now: datetime) -> int:
    """Store what a local sink received. Every sink (email catcher, SMS, voice, letters,
    webhooks) records through this one function so the web inbox shows every channel alike."""
    with SqlUnitOfWork(engine) as uow:
        inbox_id = uow.inbox.record(item, now)
        uow.commit()
    return inbox_id


def inbox_has(engine: Engine, channel: str, message_ref: str) -> bool:
    """Did a local sink receive this message? (``confirm`` for sinks.)"""
    with SqlUnitOfWork(engine, read_only=True) as uow:
        return uow.inbox.has(channel, message_ref)


class SinkProvider:
    """A base for local sinks: ``to_inbox`` says what to store; send records it and accepts.

    Subclasses set ``channel`` and override ``to_inbox``. Recording goes through a thread so a
    sink never blocks the delivery loop's event loop on the database.
    """

    channel: str = ""
    name: str = "sink"

    def __init__(self, engine: Engine, clock: Any) -> None:
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
