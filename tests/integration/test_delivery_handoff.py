"""The hand-off window: only messages at the provider may become uncertain; leases and stopping."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.channels_helpers import add_contact, add_outbox, add_template, outbox_row
from tidings.application.ports.senders import DeliveryResult
from tidings.bootstrap import Container
from tidings.channels.delivery import Deliverer
from tidings.channels.registry import ChannelRegistry
from tidings.clock import ManualClock
from tidings.store import schema

o = schema.outbox


class Gate:
    """An email provider with ``concurrency`` slots whose sends wait until the gate opens."""

    channel, name = "email", "gate"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.open = asyncio.Event()
        self.in_flight = 0
        self.sent: list[str] = []

    async def send(self, msg: Any) -> DeliveryResult:
        self.in_flight += 1
        await self.open.wait()
        self.in_flight -= 1
        self.sent.append(msg.recipient)
        return DeliveryResult.accepted(msg.message_ref)

    async def confirm(self, msg: Any) -> bool | None:
        return None  # a remote relay: cannot tell

    async def aclose(self) -> None:
        return None


def _rows(container: Container, n: int) -> list[int]:
    now = container.clock.now()
    add_template(container.engine, now)
    return [add_outbox(container.engine, now, add_contact(container.engine, now, email=f"h{i}@example.org"))
            for i in range(n)]


def _count(container: Container, *where: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(o).where(*where)).scalar_one())


async def _until(cond: Any) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never met")


async def test_a_crash_leaves_only_the_hand_off_window_uncertain(container: Container) -> None:
    ids = _rows(container, 20)
    gate = Gate(concurrency=3)
    dead = Deliverer(container, ChannelRegistry({"email": gate}))
    task = asyncio.ensure_future(dead.drain())
    await _until(lambda: gate.in_flight == 3)
    assert _count(container, o.c.status == "sending") == 20  # the whole batch claimed and rendered
    assert _count(container, o.c.handed_off_at.is_not(None)) == 3  # only those at the provider
    task.cancel()  # the process dies here: nothing more is written
    await asyncio.gather(task, return_exceptions=True)
    dead.close()
    with container.engine.begin() as conn:  # ... and its leases run out
        conn.execute(sa.update(o).values(lease_until=container.lease_clock.now() - timedelta(seconds=1)))
    survivor = Gate(concurrency=3)
    survivor.open.set()
    d = Deliverer(container, ChannelRegistry({"email": survivor}))
    await d.drain()
    d.close()
    statuses = [outbox_row(container.engine, i)["status"] for i in ids]
    assert statuses.count("uncertain") == 3
    assert statuses.count("sent") == 17 and len(survivor.sent) == 17
    assert all(outbox_row(container.engine, i)["attempts"] == 1 for i in ids if i not in ids[:3])


async def test_stop_finishes_in_flight_sends_and_releases_the_rest(container: Container) -> None:
    ids = _rows(container, 20)
    gate = Gate(concurrency=4)
    d = Deliverer(container, ChannelRegistry({"email": gate}))
    stop = asyncio.Event()
    task = asyncio.ensure_future(d.drain(stop, until_empty=False))
    await _until(lambda: gate.in_flight == 4)
    stop.set()  # SIGTERM
    gate.open.set()  # the four in flight complete within the grace period
    await task
    assert await d.stop_here() == 0  # nothing left behind
    d.close()
    rows = [outbox_row(container.engine, i) for i in ids]
    assert sorted(r["status"] for r in rows) == ["pending"] * 16 + ["sent"] * 4
    released = [r for r in rows if r["status"] == "pending"]
    assert all(r["attempts"] == 0 and r["lease_owner"] is None and r["handed_off_at"] is None for r in released)


async def test_stop_here_releases_claimed_rows_that_were_never_handed_off(container: Container) -> None:
    ids = _rows(container, 5)
    d = Deliverer(container, ChannelRegistry({"email": Gate(1)}))
    ready, _ = await d._claim()
    assert len(ready) == 5 and d.held == set(ids)
    assert await d.stop_here() == 5
    d.close()
    assert _count(container, o.c.status == "pending", o.c.attempts == 0) == 5


def test_leases_run_on_the_lease_clock_and_the_heartbeat_renews_them(container: Container) -> None:
    lease_clock = ManualClock(container.clock.now() + timedelta(days=300))
    container.lease_clock = lease_clock
    ids = _rows(container, 2)
    d = Deliverer(container, ChannelRegistry({"email": Gate(1)}), lease=timedelta(seconds=15))
    ready, _ = d.claim_and_prepare()
    d.held.update(r["id"] for r, _ in ready)
    assert outbox_row(container.engine, ids[0])["lease_until"] == lease_clock.now() + timedelta(seconds=15)
    assert isinstance(container.clock, ManualClock)
    container.clock.advance(timedelta(days=3))  # the business clock jumps: no lease expires
    other = Deliverer(container, ChannelRegistry({"email": Gate(1)}))
    assert asyncio.run(other.recover()) == 0
    lease_clock.advance(timedelta(seconds=10))
    assert d._heartbeat_sync(sorted(d.held)) == 2
    lease_clock.advance(timedelta(seconds=10))  # 20 s after the claim, 10 s after the beat
    assert asyncio.run(other.recover()) == 0
    lease_clock.advance(timedelta(seconds=6))  # no beat for 16 s: the sender is presumed dead
    assert asyncio.run(other.recover()) == 2
    assert _count(container, o.c.status == "pending") == 2
    d.close()
    other.close()


def test_the_service_gives_up_on_sends_past_the_grace_period(container: Container, monkeypatch: Any) -> None:
    """SIGTERM with a provider that hangs: after the grace period the process goes; what was handed
    off stays for recovery (it may have gone), everything else is pending again."""
    import threading
    from dataclasses import replace

    from tidings.channels import delivery

    ids = _rows(container, 10)
    gate = Gate(concurrency=2)  # never opens
    monkeypatch.setattr(delivery, "build_registry", lambda c: ChannelRegistry({"email": gate}))
    container.settings = replace(container.settings, shutdown_grace_s=0.2)
    service = delivery.DeliveryService(container)
    service.start()
    marked = threading.Event()
    for _ in range(2000):
        if _count(container, o.c.handed_off_at.is_not(None)) == 2:
            marked.set()
            break
        threading.Event().wait(0.005)
    assert marked.is_set()
    service.stop()
    assert service._thread is not None and not service._thread.is_alive()
    rows = [outbox_row(container.engine, i) for i in ids]
    handed = [r for r in rows if r["handed_off_at"] is not None]
    assert len(handed) == 2 and {r["status"] for r in handed} == {"sending"}
    rest = [r for r in rows if r["handed_off_at"] is None]
    assert {r["status"] for r in rest} == {"pending"} and {r["attempts"] for r in rest} == {0}


def test_the_writer_keeps_its_connection_and_drops_it_when_a_write_fails(container: Container) -> None:
    """Marks and outcomes are written on one kept connection (no pool checkout per write); a write
    that fails rolls back and drops it, and the next write opens a new one."""
    deliverer = Deliverer(container, ChannelRegistry({}))
    try:
        ids = _rows(container, 1)
        with deliverer.store.writer.transaction() as conn:
            first = conn
            conn.execute(sa.update(schema.outbox).where(schema.outbox.c.id == ids[0]).values(error="kept"))
        with deliverer.store.writer.transaction() as conn:
            assert conn is first  # the same connection, kept between writes
        with pytest.raises(RuntimeError), deliverer.store.writer.transaction() as conn:
            conn.execute(sa.update(schema.outbox).where(schema.outbox.c.id == ids[0]).values(error="rolled back"))
            raise RuntimeError("the database went away")
        assert deliverer.store.writer.conn is None and first.closed
        with deliverer.store.writer.transaction() as conn:
            assert conn is not first
            assert conn.execute(sa.select(schema.outbox.c.error).where(schema.outbox.c.id == ids[0])).scalar() == "kept"
    finally:
        deliverer.close()
    assert deliverer.store.writer.conn is None


def test_a_writer_connection_the_database_dropped_is_replaced_and_the_write_done_once(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("needs a server that can end a session (pg_terminate_backend)")
    deliverer = Deliverer(container, ChannelRegistry({}))
    try:
        ids = _rows(container, 1)
        with deliverer.store.writer.transaction() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with container.engine.begin() as admin:  # the server ends the kept session (a restart, say)
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        o = schema.outbox
        bumped = deliverer.store.writer.run(
            lambda c: c.execute(sa.update(o).where(o.c.id == ids[0]).values(attempts=o.c.attempts + 1)).rowcount
        )
        assert bumped == 1 and "connection was lost" in caplog.text  # the first try failed, the second wrote
        with container.engine.connect() as conn:
            assert conn.execute(sa.select(o.c.attempts).where(o.c.id == ids[0])).scalar() == 1  # once, not twice
    finally:
        deliverer.close()


def test_a_claim_takes_at_most_its_limit_whatever_plan_the_database_picks(container: Container) -> None:
    """PostgreSQL without statistics on a fresh outbox plans ``id IN (SELECT ... LIMIT n FOR UPDATE
    SKIP LOCKED)`` as a nested loop that runs the subquery again for every outer row: one claim
    then took the whole backlog (5,000 rows of a 500-row batch, quadratic time)."""
    ids = _rows(container, 30)
    d = Deliverer(container, ChannelRegistry({"email": Gate(1)}), batch_size=7)
    try:
        now = container.clock.now()
        first = d.store.claim(owner=d.owner, now=now, limit=7, kinds=d.kinds, lease_until=d._lease_until())
        second = d.store.claim(owner=d.owner, now=now, limit=7, kinds=d.kinds, lease_until=d._lease_until())
        assert [r["id"] for r in first] == ids[:7] and [r["id"] for r in second] == ids[7:14]
        assert _count(container, o.c.status == "sending") == 14
        with container.engine.begin() as conn:  # handed off by a sender that died
            conn.execute(sa.update(o).where(o.c.id.in_(ids[:14])).values(
                handed_off_at=now, lease_owner="dead", lease_until=container.lease_clock.now() - timedelta(seconds=1)))
        released, stale = d.store.claim_expired(
            owner=d.owner, limit=5, lease_now=container.lease_clock.now(), lease_until=d._lease_until()
        )
        assert released == 0 and sorted(r["id"] for r in stale) == ids[:5]
    finally:
        d.close()


class HoldFirst(Gate):
    """Holds the message to ``first`` until the gate opens; every other one goes at once."""

    def __init__(self, concurrency: int, first: str) -> None:
        super().__init__(concurrency)
        self.first = first

    async def send(self, msg: Any) -> DeliveryResult:
        if msg.recipient == self.first:
            return await super().send(msg)
        self.sent.append(msg.recipient)
        return DeliveryResult.accepted(msg.message_ref)


async def test_a_slow_message_does_not_hold_back_the_next_batches(container: Container) -> None:
    """Claimed messages stream through the window: the next batch does not wait for the slowest
    message of the one before (it used to: a batch was sent whole before the next began)."""
    ids = _rows(container, 12)
    slow = HoldFirst(concurrency=3, first="h0@example.org")
    d = Deliverer(container, ChannelRegistry({"email": slow}), batch_size=4)
    task = asyncio.ensure_future(d.drain())
    # all but the held one, from all three batches, sent and recorded
    await _until(lambda: len(slow.sent) == 11 and _count(container, o.c.status == "sent") == 11)
    assert slow.in_flight == 1
    slow.open.set()
    assert await task == 12
    d.close()
    assert {outbox_row(container.engine, i)["status"] for i in ids} == {"sent"}
