"""Sales tasks as a channel: a journey's ``task`` step becomes a row in ``tasks``, assigned and notified.

The "provider" is our own database (``tasks.py`` beside this module): creating the task, choosing its owner
and enqueueing the owner's notification happen in one transaction, once per outbox row (a retry
or a recovery after a crash finds the task already there: ``confirm`` answers from the table).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tidings.application.ports.clock import Clock
from tidings.application.ports.sales import SalesUnitOfWork
from tidings.application.ports.senders import TASK, DeliveryResult, OutgoingMessage
from tidings.application.ports.wiring import Wiring
from tidings.application.sales import tasks as service


class TaskProvider:
    channel = TASK
    name = "tasks"

    def __init__(self, uow: Callable[[], SalesUnitOfWork], clock: Clock) -> None:
        self.uow = uow  # a fresh unit of work per task: sends run in threads
        self.clock = clock

    def _create(self, msg: OutgoingMessage) -> dict[str, object]:
        now = self.clock.now()
        data = msg.data
        with self.uow() as uow:
            task = service.create_task(
                uow,
                contact_id=msg.contact_id,
                title=str(data.get("title") or msg.subject or ""),
                now=now,
                body=str(data.get("body") or msg.text or ""),
                owner=data.get("owner") or None,
                team=data.get("team") or None,
                due_at=service.due_at_from(data, now),
                outbox_id=msg.outbox_id,
            )
            uow.commit()
        return task

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        try:
            task = await asyncio.to_thread(self._create, msg)
        except service.TaskError as exc:
            return DeliveryResult.permanent(f"{exc.field}: {exc}")
        return DeliveryResult.accepted(
            f"task-{task['id']}", task_id=task["id"], owner=task["owner"], assigned_by=task["assigned_by"]
        )

    def _exists(self, outbox_id: int) -> bool:
        with self.uow() as uow:
            return uow.tasks.by_outbox(outbox_id) is not None

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return await asyncio.to_thread(self._exists, msg.outbox_id)

    async def aclose(self) -> None:
        return None


def build_provider(container: Wiring) -> TaskProvider:
    return TaskProvider(container.uow, container.clock)
