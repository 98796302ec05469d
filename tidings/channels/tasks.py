"""Sales tasks as a channel: a journey's ``task`` step becomes a row in ``tasks``, assigned and notified.

The "provider" is our own database (services/tasks.py): creating the task, choosing its owner
and enqueueing the owner's notification happen in one transaction, once per outbox row (a retry
or a recovery after a crash finds the task already there: ``confirm`` answers from the table).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tidings.application.sales import tasks as service
from tidings.channels.base import TASK, DeliveryResult, OutgoingMessage
from tidings.store import schema
from tidings.store.sql_uow import joined

if TYPE_CHECKING:
    from tidings.bootstrap import Container
    from tidings.clock import Clock


class TaskProvider:
    channel = TASK
    name = "tasks"

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def _create(self, msg: OutgoingMessage) -> dict[str, object]:
        now = self.clock.now()
        data = msg.data
        with self.engine.begin() as conn:
            return service.create_task(
                joined(conn),
                contact_id=msg.contact_id,
                title=str(data.get("title") or msg.subject or ""),
                now=now,
                body=str(data.get("body") or msg.text or ""),
                owner=data.get("owner") or None,
                team=data.get("team") or None,
                due_at=service.due_at_from(data, now),
                outbox_id=msg.outbox_id,
            )

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        try:
            task = await asyncio.to_thread(self._create, msg)
        except service.TaskError as exc:
            return DeliveryResult.permanent(f"{exc.field}: {exc}")
        return DeliveryResult.accepted(
            f"task-{task['id']}", task_id=task["id"], owner=task["owner"], assigned_by=task["assigned_by"]
        )

    def _exists(self, outbox_id: int) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(schema.tasks.c.id).where(schema.tasks.c.outbox_id == outbox_id)
                ).first()
                is not None
            )

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return await asyncio.to_thread(self._exists, msg.outbox_id)

    async def aclose(self) -> None:
        return None


def build_provider(container: Container) -> TaskProvider:
    return TaskProvider(container.engine, container.clock)
