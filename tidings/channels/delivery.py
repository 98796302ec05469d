"""The delivery loop: drains the outbox through the channel providers.

One ``DeliveryService`` runs an asyncio loop in its own thread. Each round it

1. gives back rows a dead sender claimed but never handed off, and resolves the ones it had
   handed off (see *uncertain sends*);
2. claims a batch of due pending rows (``SKIP LOCKED`` + a short lease, renewed by a heartbeat
   while this loop works), and in the same thread checks consent/suppression/preferences and
   renders them (``prepare.py``) — so what was decided a moment ago (an unsubscribe) holds;
3. sends the batch through the hand-off window (``handoff.py``) while the next batch is claimed
   and prepared: each message is marked ``handed_off_at`` right before its provider call and
   its outcome (with its ``message.sent`` event and trace) is written right after, in small
   writes that group whatever is ready. A failure of one message is recorded on its row;
   nothing a message does can stop the loop.

**Uncertain sends.** A row still ``sending`` after its lease expired belongs to a sender that
died. Not handed off: it never reached a provider, and goes back to ``pending``. Handed off: the
provider may or may not have it. We never resend it blindly: we ask the provider (``confirm``,
by our Message-ID). Confirmed -> ``sent`` (with its event); provider knows it never got it ->
back to ``pending``; provider cannot tell (a remote SMTP server) -> ``uncertain``, with the
reason in ``outbox.error``, for an operator to decide (``tidings messages uncertain``).

**Stopping.** ``stop()`` (SIGTERM) stops claiming, lets the messages already handed off finish
within ``TIDINGS_SHUTDOWN_GRACE`` seconds, and gives every other claimed row back to
``pending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from tidings.application.ports.senders import DeliveryResult, DeliveryStatus, OutgoingMessage
from tidings.channels.handoff import HandOffWindow, SendStream, Writes
from tidings.channels.prepare import Links, Preparer, message_from_rendered
from tidings.channels.registry import ChannelRegistry, UnknownChannel, build_registry
from tidings.domain.statuses import OutboxStatus
from tidings.store import outbox
from tidings.store.delivery_loop_sql import SqlDeliveryLoop
from tidings.store.outbox import Outcome

if TYPE_CHECKING:
    from tidings.application.ports.wiring import Wiring

log = logging.getLogger("tidings.channels.delivery")

Ready = list[tuple[dict[str, Any], OutgoingMessage]]
T = TypeVar("T")
#: busy loops also look for expired leases every this many batches.
RECOVER_EVERY = 50
#: messages of one channel in the hand-off window when its provider does not say (``concurrency``).
DEFAULT_CONCURRENCY = 16


class Deliverer:
    """The work of one round, without threads: usable from tests and the benchmark directly."""

    def __init__(
        self,
        container: Wiring,
        registry: ChannelRegistry,
        *,
        batch_size: int = 200,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self.container = container
        #: every transaction of this loop (claims, reads, the writer's kept connection).
        self.store = SqlDeliveryLoop(container.engine)
        self.clock = container.clock
        #: leases are about whether a sender is alive: real time, never the business clock (a test
        #: clock jumping past a lease while its sender is mid-send once caused a duplicate).
        self.lease_clock = container.lease_clock
        s = container.settings
        self.lease = lease or timedelta(seconds=s.delivery_lease_s)
        self.registry = registry
        self.batch_size = batch_size
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.preparer = Preparer(Links(container.secret_key, s.public_url, s.email_from))
        self.kinds = sorted({"message", *registry.channels()})
        self.window = HandOffWindow(self._write_window, self._concurrency)
        #: ids of the rows this loop holds (claimed, not finished): what the heartbeat renews.
        self.held: set[int] = set()
        self._stop: asyncio.Event | None = None
        # One thread does this loop's claims and renders, in order: one connection stays warm
        # (SQLite keeps a page cache per connection: cycling through a pool multiplies memory).
        # A second one writes the hand-off window and heartbeats, so a batch being rendered never
        # holds up the messages being sent.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-delivery-db")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-delivery-write")
        # The writer thread writes on one kept connection (``store/delivery_loop_sql.KeptWriter``):
        # a mark waits for one write, so a pool checkout per write would be latency on every message.

    def _db(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _w(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._writer.shutdown(wait=True)
        self.store.close()  # the writer thread has stopped: no one else uses its connection

    def _concurrency(self, channel: str) -> int:
        provider = self.registry.get(channel) if channel in self.registry else None
        return int(getattr(provider, "concurrency", DEFAULT_CONCURRENCY))

    def _lease_until(self) -> datetime:
        return self.lease_clock.now() + self.lease

    # ------------------------------------------------------------------ database steps (threads)

    def claim_and_prepare(self) -> tuple[Ready, list[Outcome]]:
        """Claim (short write), check and render (reads only), store rendered + decisions (short write).

        Writers hold SQLite's lock only for the two short writes, not while templates render; the
        consent read happens after the claim, so an unsubscribe committed before it is honoured.
        """
        now = self.clock.now()
        rows = self.store.claim(
            owner=self.owner, now=now, limit=self.batch_size, kinds=self.kinds, lease_until=self._lease_until()
        )
        if not rows:
            return [], []
        with self.store.reading() as reads:
            ready, decided, rendered = self.preparer.prepare(reads, rows, now)
        # decided without sending (skipped, suppressed, failed to render): recorded at once.
        self.store.save_decisions(rendered, decided, now)
        return ready, decided

    def _claim_expired(self) -> tuple[int, list[dict[str, Any]]]:
        lease_now = self.lease_clock.now()
        return self.store.claim_expired(
            owner=self.owner, limit=self.batch_size, lease_now=lease_now, lease_until=self._lease_until()
        )

    def record(self, outcomes: Sequence[Outcome]) -> None:
        self.store.record(outcomes, self.clock.now())

    def _write_window_sync(self, w: Writes) -> set[int]:
        return self.store.write_window(w.outcomes, w.releases, w.marks, owner=self.owner, now=self.clock.now())

    async def _write_window(self, w: Writes) -> set[int]:
        marked = await self._w(self._write_window_sync, w)
        self.held.difference_update(x.row["id"] for x in w.outcomes)
        self.held.difference_update(w.releases)
        self.held.difference_update(set(w.marks) - marked)
        return marked

    def _heartbeat_sync(self, ids: list[int]) -> int:
        return self.store.heartbeat(ids, owner=self.owner, lease_until=self._lease_until())

    def _release_all_sync(self) -> int:
        return self.store.release_all(owner=self.owner)

    # ------------------------------------------------------------------ async steps

    async def _claim(self) -> tuple[Ready, list[Outcome]]:
        ready, decided = await self._db(self.claim_and_prepare)
        self.held.update(row["id"] for row, _ in ready)
        return ready, decided

    async def send(self, row: dict[str, Any], msg: OutgoingMessage) -> Outcome:
        try:
            provider = self.registry.get(msg.channel)
        except UnknownChannel as exc:
            return Outcome(row, OutboxStatus.FAILED, error=str(exc), trace_action="message.failed")
        try:
            result = await provider.send(msg)
        except Exception as exc:  # a provider bug must not kill the loop: retry like a temporary failure
            log.exception("provider %s raised on outbox %s", provider.name, row["id"])
            result = DeliveryResult.temporary(f"{type(exc).__name__}: {exc}")
        return self.outcome(row, result)

    async def hand_off_and_send(
        self, row: dict[str, Any], msg: OutgoingMessage, *, on_slot: Callable[[], None] | None = None
    ) -> None:
        """One message through the hand-off window: slot, durable mark, provider call, outcome."""
        async with self.window.slot(msg.channel):
            if on_slot is not None:
                on_slot()
            if self._stop is not None and self._stop.is_set():  # stopping: never handed off
                await self.window.release(row["id"])
                return
            if not await self.window.mark(row["id"]):
                log.warning("outbox %s is no longer ours (lease lost); not sent here", row["id"])
                return
            outcome = await self.send(row, msg)
        await self.window.record(outcome)

    async def send_batch(self, ready: Ready) -> None:
        await asyncio.gather(*(self.hand_off_and_send(row, msg) for row, msg in ready))

    async def release(self, rows: Sequence[dict[str, Any]]) -> None:
        """Give claimed rows back (never handed off) at once."""
        await asyncio.gather(*(self.window.release(r["id"]) for r in rows))

    async def keep_leases(self) -> None:
        """Renew the leases of held rows every third of a lease while this loop runs."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if self.held:
                try:
                    await self._w(self._heartbeat_sync, sorted(self.held))
                except Exception:  # the next beat tries again; a lease is three beats long
                    log.exception("lease heartbeat failed")

    async def stop_here(self) -> int:
        """A stopping loop's last word: outcomes written, every row not handed off released."""
        await self.window.flush()
        released = await self._w(self._release_all_sync)
        self.held.clear()
        return released

    def outcome(self, row: dict[str, Any], result: DeliveryResult) -> Outcome:
        if result.status is DeliveryStatus.ACCEPTED:
            return Outcome(row, OutboxStatus.SENT, provider_message_id=result.provider_message_id)
        if row["kind"] in ("webhook", "crm"):  # own attempt budget, then dead letters (channels/webhooks.py)
            from tidings.channels.webhooks import webhook_outcome

            limit = self.container.settings.webhook_max_attempts
            return webhook_outcome(row, result, self.clock.now(), limit)
        if result.status is DeliveryStatus.FAILED_TEMPORARY and row["attempts"] < outbox.MAX_ATTEMPTS:
            when = self.clock.now() + outbox.backoff(row["attempts"], result.retry_after_s)
            return Outcome(
                row,
                OutboxStatus.PENDING,
                error=result.error,
                next_attempt_at=when,
                trace_action="message.retry",
                trace_detail={"attempt": row["attempts"], "next_attempt_at": when.isoformat()},
            )
        gave_up = (
            ""
            if result.status is DeliveryStatus.FAILED_PERMANENT
            else f" (gave up after {row['attempts']} attempts)"
        )
        return Outcome(
            row,
            OutboxStatus.FAILED,
            error=f"{result.error}{gave_up}",
            trace_action="message.failed",
            trace_detail=dict(result.detail),
        )

    async def recover(self) -> int:
        """Resolve rows whose sender died (see the module doc)."""
        now = self.clock.now()
        released, rows = await self._db(self._claim_expired)
        if released:
            log.warning("%s messages claimed by a stopped sender and never handed off: sent again", released)
        outcomes = [await self._resolve(row, now) for row in rows]
        await self._db(self.record, outcomes)
        return released + len(rows)

    async def _resolve(self, row: dict[str, Any], now: datetime) -> Outcome:
        msg = message_from_rendered(row)
        if msg is None:  # not rendered, so never handed to a provider
            retried = "lease expired before sending; retried"
            return Outcome(row, OutboxStatus.PENDING, error=retried, next_attempt_at=now)
        confirmed: bool | None = None
        provider = self.registry.get(msg.channel).name if msg.channel in self.registry else None
        if msg.channel in self.registry:
            try:
                confirmed = await self.registry.get(msg.channel).confirm(msg)
            except Exception:
                log.exception("confirm failed for outbox %s", row["id"])
        if confirmed is True:
            return Outcome(
                row,
                OutboxStatus.SENT,
                extra={"recovered": True},
                trace_action="message.recovered",
                trace_detail={"resolution": "provider confirmed receipt"},
            )
        if confirmed is False:
            return Outcome(
                row,
                OutboxStatus.PENDING,
                error="lease expired; provider never received it: resent",
                next_attempt_at=now,
                trace_action="message.retry",
            )
        return Outcome(
            row,
            OutboxStatus.UNCERTAIN,
            error="uncertain: the sender stopped while handing it to the provider, which cannot "
            "confirm receipt; not resent automatically",
            trace_action="message.uncertain",
            trace_detail={"provider": provider, "handed_off_at": str(row.get("handed_off_at"))},
        )

    async def run_once(self) -> int:
        """One round without pipelining: recover, claim+prepare, send, record. Returns rows handled."""
        n = await self.recover()
        ready, decided = await self._claim()
        await self.send_batch(ready)
        return n + len(ready) + len(decided)

    async def drain(
        self, stop: asyncio.Event | None = None, *, until_empty: bool = True, idle_poll: float = 0.05
    ) -> int:
        """Claim, prepare and send in a stream: each claimed message goes to the hand-off window at
        once (it waits there for a slot), and the next batch is claimed while fewer than half a
        batch wait for one, so there is no barrier between batches. When a claim comes back short
        (caught up), the next one waits ``idle_poll`` seconds."""
        self._stop = stop
        heart = asyncio.ensure_future(self.keep_leases())
        try:
            return await self._drain(stop, until_empty, idle_poll)
        finally:
            heart.cancel()

    async def _drain(self, stop: asyncio.Event | None, until_empty: bool, idle_poll: float) -> int:
        def stopping() -> bool:
            return stop is not None and stop.is_set()

        async def pause(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                if stop is not None:
                    await asyncio.wait_for(stop.wait(), seconds)
                else:
                    await asyncio.sleep(seconds)

        stream = SendStream(self.hand_off_and_send, low=max(1, self.batch_size // 2))
        total = rounds = 0
        loop = asyncio.get_running_loop()
        try:
            while not stopping():
                started = loop.time()
                ready, decided = await self._claim()
                if stopping():
                    await self.release([r for r, _ in ready])  # claimed but not sent: give them back
                    break
                if not ready and not decided:
                    if until_empty:
                        await stream.join()
                    await self.window.flush()
                    recovered = await self.recover()
                    total += recovered
                    if until_empty and not recovered:  # what recovery gave back is sent in this drain
                        break
                    if not recovered:
                        await pause(idle_poll)
                    continue
                total += len(ready) + len(decided)
                rounds += 1
                if rounds % RECOVER_EVERY == 0:  # under constant load too, not only when idle
                    total += await self.recover()
                stream.launch(ready)
                await stream.room()
                wait = started + idle_poll - loop.time()
                if len(ready) + len(decided) < self.batch_size and wait > 0:  # caught up: do not spin on claims
                    await pause(wait)
            await stream.join()
        finally:
            stream.cancel()  # only left when this drain itself is cancelled or failed
        await self.window.flush()
        return total


class DeliveryService:
    """The background service `tidings serve`/`tidings worker` run (see runtime.py)."""

    name = "delivery"

    def __init__(self, container: Wiring, *, on_ready: Callable[[ChannelRegistry], None] | None = None) -> None:
        self.container = container
        #: told the providers once they are built (the composition root shows them to recipe checks).
        self.on_ready = on_ready
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tidings-delivery", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        try:  # uvloop (installed with uvicorn[standard]) makes the SMTP side cheaper
            from uvloop import run
        except ImportError:
            run = asyncio.run  # type: ignore[assignment]
        run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        registry = build_registry(self.container)
        deliverer = Deliverer(self.container, registry)
        if self.on_ready is not None:
            self.on_ready(registry)
        self._ready.set()
        work = asyncio.ensure_future(self._rounds(deliverer, self._stop))
        try:
            await self._stop.wait()
            grace = self.container.settings.shutdown_grace_s
            try:  # stop claiming; what was handed off finishes within the grace period
                await asyncio.wait_for(asyncio.shield(work), grace)
            except TimeoutError:
                log.warning("messages still sending after the %s s grace period: abandoned", grace)
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        finally:
            try:
                released = await deliverer.stop_here()
                if released:
                    log.info("stopping: %s claimed messages given back to pending", released)
            finally:
                deliverer.close()
                await registry.aclose()

    async def _rounds(self, deliverer: Deliverer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await deliverer.drain(stop, until_empty=False)
            except Exception:  # the database went away...: log, wait, go on
                log.exception("delivery round failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=self.container.settings.shutdown_grace_s + 15)


def delivery_service(
    container: Wiring, *, on_ready: Callable[[ChannelRegistry], None] | None = None
) -> DeliveryService:
    return DeliveryService(container, on_ready=on_ready)
