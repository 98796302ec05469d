"""The delivery loop: drains the outbox through the channel providers.

One ``DeliveryService`` runs an asyncio loop in its own thread. Each round it

1. resolves rows left in ``sending`` by a worker whose lease expired (see *uncertain sends*);
2. claims a batch of due pending rows (``SKIP LOCKED`` + lease), and in the same thread
   checks consent/suppression/preferences and renders them (``prepare.py``) — so what was
   decided a moment ago (an unsubscribe) holds;
3. sends the batch concurrently (providers cap their own concurrency and rate) while the next
   batch is claimed and prepared;
4. records outcomes, ``message.sent`` events (enqueueing the contact) and traces in one
   transaction per batch. A failure of one message is recorded on its row; nothing a message
   does can stop the loop.

**Uncertain sends.** A row still ``sending`` after its lease expired belongs to a worker that
died mid-send: the provider may or may not have the message. We never resend it blindly: we
ask the provider (``confirm``, by our Message-ID). Confirmed -> ``sent`` (with its event);
provider knows it never got it -> back to ``pending``; provider cannot tell (a remote SMTP
server) -> ``uncertain``, with the reason in ``outbox.error``, for an operator to resend.
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
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tidings.application.ports.senders import DeliveryResult, DeliveryStatus, OutgoingMessage
from tidings.channels.prepare import Links, Preparer, message_from_rendered
from tidings.channels.registry import ChannelRegistry, UnknownChannel, build_registry
from tidings.store import outbox
from tidings.store.control import paused_channels
from tidings.store.db import read_only
from tidings.store.outbox import Outcome

if TYPE_CHECKING:
    from tidings.application.ports.wiring import Wiring

log = logging.getLogger("tidings.channels.delivery")

Ready = list[tuple[dict[str, Any], OutgoingMessage]]
T = TypeVar("T")
#: busy loops also look for expired leases every this many batches.
RECOVER_EVERY = 50


class Deliverer:
    """The work of one round, without threads: usable from tests and the benchmark directly."""

    def __init__(
        self,
        container: Wiring,
        registry: ChannelRegistry,
        *,
        batch_size: int = 200,
        owner: str | None = None,
    ) -> None:
        self.container = container
        self.engine = container.engine
        self.clock = container.clock
        self.registry = registry
        self.batch_size = batch_size
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        s = container.settings
        self.preparer = Preparer(Links(container.secret_key, s.public_url, s.email_from))
        self.kinds = sorted({"message", *registry.channels()})
        # One thread does all of this loop's database work, in order: one connection stays warm
        # (SQLite keeps a page cache per connection: cycling through a pool multiplies memory).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-delivery-db")

    def _db(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ database steps (threads)

    def claim_and_prepare(self) -> tuple[Ready, list[Outcome]]:
        """Claim (short write), check and render (reads only), store rendered + decisions (short write).

        Writers hold SQLite's lock only for the two short writes, not while templates render; the
        consent read happens after the claim, so an unsubscribe committed before it is honoured.
        """
        now = self.clock.now()
        with self.engine.begin() as conn:
            everything, held = paused_channels(conn)  # the kill switch holds them pending
            if everything:
                return [], []
            rows = outbox.claim(
                conn, owner=self.owner, now=now, limit=self.batch_size, kinds=self.kinds, held_channels=held
            )
        if not rows:
            return [], []
        with self.engine.connect() as raw:
            conn = read_only(raw)
            with conn.begin():
                ready, decided, rendered = self.preparer.prepare(conn, rows, now)
        with self.engine.begin() as conn:
            outbox.save_rendered(conn, rendered)
            # decided without sending (skipped, suppressed, failed to render): recorded at once.
            outbox.finish(conn, decided, now)
        return ready, decided

    def _claim_expired(self, now: datetime) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return outbox.claim_expired(conn, owner=self.owner, now=now, limit=self.batch_size)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            with self.engine.begin() as conn:
                outbox.finish(conn, outcomes, self.clock.now())

    # ------------------------------------------------------------------ async steps

    async def send(self, row: dict[str, Any], msg: OutgoingMessage) -> Outcome:
        try:
            provider = self.registry.get(msg.channel)
        except UnknownChannel as exc:
            return Outcome(row, "failed", error=str(exc), trace_action="message.failed")
        try:
            result = await provider.send(msg)
        except Exception as exc:  # a provider bug must not kill the loop: retry like a temporary failure
            log.exception("provider %s raised on outbox %s", provider.name, row["id"])
            result = DeliveryResult.temporary(f"{type(exc).__name__}: {exc}")
        return self.outcome(row, result)

    def outcome(self, row: dict[str, Any], result: DeliveryResult) -> Outcome:
        if result.status is DeliveryStatus.ACCEPTED:
            return Outcome(row, "sent", provider_message_id=result.provider_message_id)
        if row["kind"] == "webhook":  # own attempt budget, then dead letters (channels/webhooks.py)
            from tidings.channels.webhooks import webhook_outcome

            limit = self.container.settings.webhook_max_attempts
            return webhook_outcome(row, result, self.clock.now(), limit)
        if result.status is DeliveryStatus.FAILED_TEMPORARY and row["attempts"] < outbox.MAX_ATTEMPTS:
            when = self.clock.now() + outbox.backoff(row["attempts"], result.retry_after_s)
            return Outcome(
                row,
                "pending",
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
            "failed",
            error=f"{result.error}{gave_up}",
            trace_action="message.failed",
            trace_detail=dict(result.detail),
        )

    async def recover(self) -> int:
        """Resolve rows whose sender died mid-send (see the module doc)."""
        now = self.clock.now()
        rows = await self._db(self._claim_expired, now)
        outcomes: list[Outcome] = []
        for row in rows:
            msg = message_from_rendered(row)
            if msg is None:  # not rendered yet, so never handed to a provider
                outcomes.append(
                    Outcome(
                        row, "pending", error="lease expired before sending; retried", next_attempt_at=now
                    )
                )
                continue
            confirmed: bool | None = None
            if msg.channel in self.registry:
                try:
                    confirmed = await self.registry.get(msg.channel).confirm(msg)
                except Exception:
                    log.exception("confirm failed for outbox %s", row["id"])
            if confirmed is True:
                outcomes.append(
                    Outcome(
                        row,
                        "sent",
                        extra={"recovered": True},
                        trace_action="message.recovered",
                        trace_detail={"resolution": "provider confirmed receipt"},
                    )
                )
            elif confirmed is False:
                outcomes.append(
                    Outcome(
                        row,
                        "pending",
                        error="lease expired; provider never received it: resent",
                        next_attempt_at=now,
                        trace_action="message.retry",
                    )
                )
            else:
                outcomes.append(
                    Outcome(
                        row,
                        "uncertain",
                        error="uncertain: the sender stopped mid-send and the provider cannot "
                        "confirm receipt; not resent automatically",
                        trace_action="message.uncertain",
                    )
                )
        await self._db(self.record, outcomes)
        return len(rows)

    async def run_once(self) -> int:
        """One round without pipelining: recover, claim+prepare, send, record. Returns rows handled."""
        n = await self.recover()
        ready, decided = await self._db(self.claim_and_prepare)
        outcomes = await asyncio.gather(*(self.send(row, msg) for row, msg in ready))
        await self._db(self.record, outcomes)
        return n + len(ready) + len(decided)

    async def drain(
        self, stop: asyncio.Event | None = None, *, until_empty: bool = True, idle_poll: float = 0.05
    ) -> int:
        """Pipelined rounds: the next batch is claimed and prepared while this one sends."""
        total = rounds = 0
        next_batch = asyncio.ensure_future(self._db(self.claim_and_prepare))
        pending_record: asyncio.Future[None] | None = None
        while True:
            ready, decided = await next_batch
            if stop is not None and stop.is_set():
                if ready:  # claimed but not sent: give them back at once
                    await self._db(
                        self.record,
                        [Outcome(r, "pending", next_attempt_at=self.clock.now()) for r, _ in ready],
                    )
                break
            if not ready and not decided:
                if pending_record is not None:
                    await pending_record
                    pending_record = None
                total += await self.recover()
                if until_empty:
                    break
                try:
                    if stop is not None:
                        await asyncio.wait_for(stop.wait(), idle_poll)
                    else:
                        await asyncio.sleep(idle_poll)
                except TimeoutError:
                    pass
                next_batch = asyncio.ensure_future(self._db(self.claim_and_prepare))
                continue
            total += len(ready) + len(decided)
            rounds += 1
            if rounds % RECOVER_EVERY == 0:  # under constant load too, not only when idle
                total += await self.recover()
            next_batch = asyncio.ensure_future(self._db(self.claim_and_prepare))
            outcomes = await asyncio.gather(*(self.send(row, msg) for row, msg in ready))
            if pending_record is not None:
                await pending_record
            pending_record = asyncio.ensure_future(self._db(self.record, outcomes))
        if pending_record is not None:
            await pending_record
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
        try:
            while not self._stop.is_set():
                try:
                    await deliverer.drain(self._stop, until_empty=False)
                except Exception:  # the database went away...: log, wait, go on
                    log.exception("delivery round failed; retrying")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), 1.0)
        finally:
            deliverer.close()
            await registry.aclose()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)


def delivery_service(
    container: Wiring, *, on_ready: Callable[[ChannelRegistry], None] | None = None
) -> DeliveryService:
    return DeliveryService(container, on_ready=on_ready)
