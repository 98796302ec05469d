"""The hand-off window of a delivery loop: which messages may have reached a provider.

Every message passes through it right before its provider call:

1. it takes a slot of its channel (as many slots as the provider has connections/concurrency);
2. it asks for its **hand-off mark** (``outbox.handed_off_at``) and waits until that is durable;
3. the provider call runs; the slot is freed; the outcome is queued to be recorded.

Marks, outcomes and releases are written together by one writer, each write taking everything
queued since the last one (one small transaction per group of messages, not one per message).
Outcomes queued before a mark are always in the same write or an earlier one, so at any moment
the rows marked but without an outcome are at most the number of slots: that is the hand-off
window, the only messages a crash can leave ``uncertain`` (docs/channels.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tidings.store.outbox import Outcome


@dataclass
class Writes:
    """One write of the window: outcomes, releases and hand-off marks, in one transaction."""

    outcomes: list[Outcome] = field(default_factory=list)
    releases: list[int] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.releases or self.marks)


#: event-loop turns a write waits for the rest of its group to queue (no clock involved).
GATHER_TURNS = 3

#: runs one ``Writes`` in the database (in a thread); returns the ids it marked.
Writer = Callable[[Writes], Awaitable[set[int]]]


class HandOffWindow:
    """Slots per channel and a coalescing writer for marks and outcomes (see the module doc)."""

    def __init__(self, write: Writer, slots: Callable[[str], int]) -> None:
        self._write = write
        self._size = slots
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._queued = Writes()
        self._waiters: list[tuple[str, Any, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    def slot(self, channel: str) -> asyncio.Semaphore:
        if channel not in self._slots:
            self._slots[channel] = asyncio.Semaphore(max(1, self._size(channel)))
        return self._slots[channel]

    @property
    def size(self) -> int:
        """Slots opened so far (the bound of rows marked without an outcome)."""
        return sum(self._size(c) for c in self._slots)

    async def mark(self, outbox_id: int) -> bool:
        """Durably mark one row as handed off; False if it is no longer ours to send."""
        self._queued.marks.append(outbox_id)
        return bool(await self._wait("mark", outbox_id))

    async def record(self, outcome: Outcome) -> None:
        self._queued.outcomes.append(outcome)
        await self._wait("record", outcome)

    async def release(self, outbox_id: int) -> None:
        self._queued.releases.append(outbox_id)
        await self._wait("release", outbox_id)

    async def flush(self) -> None:
        """Wait until everything queued so far is written."""
        if self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self._queued:
            self._kick()
            assert self._writer is not None
            await asyncio.shield(self._writer)

    def _wait(self, kind: str, item: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, item, fut))
        self._kick()
        return fut

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        while self._queued:
            # let every task that can run queue its mark or outcome first: one write for the group
            for _ in range(GATHER_TURNS):
                await asyncio.sleep(0)
            batch, self._queued = self._queued, Writes()
            waiters, self._waiters = self._waiters, []
            try:
                marked = await self._write(batch)
            except Exception as exc:  # the database went away: every waiter of this write fails
                _settle(waiters, error=exc)
                continue
            _settle(waiters, marked=marked)


class SendStream:
    """The messages of a drain on their way through the window, one task each (``delivery.py``).

    ``send(row, msg, on_slot=...)`` takes a message through the window and calls ``on_slot`` once
    it holds a slot: how many launched messages still wait for one is what tells the drain to
    claim the next batch (``room``). A task that fails (the window's write failed: the database
    went away) fails the drain."""

    def __init__(self, send: Callable[..., Awaitable[None]], *, low: int) -> None:
        self.send = send
        #: claim again once no more than this many launched messages wait for a slot.
        self.low = low
        self.tasks: set[asyncio.Task[None]] = set()
        self.waiting = 0
        self._room = asyncio.Event()
        self._failed: BaseException | None = None

    def launch(self, ready: Sequence[tuple[dict[str, Any], Any]]) -> None:
        for row, msg in ready:
            self.waiting += 1
            task = asyncio.ensure_future(self._one(row, msg))
            self.tasks.add(task)
            task.add_done_callback(self._done)

    async def _one(self, row: dict[str, Any], msg: Any) -> None:
        await self.send(row, msg, on_slot=self._took_slot)

    def _took_slot(self) -> None:
        self.waiting -= 1
        if self.waiting <= self.low:
            self._room.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failed is None:
            self._failed = task.exception()
            self._room.set()

    def _raise(self) -> None:
        if self._failed is not None:  # the window's write failed (the database went away): the drain fails
            raise self._failed

    async def room(self) -> None:
        """Until few enough messages wait for a slot that the next claim is worth making."""
        self._raise()
        if self.waiting > self.low:
            self._room.clear()
            await self._room.wait()
        self._raise()

    async def join(self) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks))
        self._raise()

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()


def _settle(
    waiters: Sequence[tuple[str, Any, asyncio.Future[Any]]],
    *,
    marked: set[int] | None = None,
    error: Exception | None = None,
) -> None:
    for kind, item, fut in waiters:
        if fut.done():  # its task was cancelled (a stop past the grace period)
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(item in (marked or set()) if kind == "mark" else None)
