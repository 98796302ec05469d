"""The hand-off window's bound: rows marked without a written outcome never exceed its slots."""

from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.channels.handoff import HandOffWindow, Writes
from tidings.store.outbox import Outcome


class FakeDb:
    """What the database would hold after each write: the rows marked and still without outcome."""

    def __init__(self, rng: random.Random, lost: set[int]) -> None:
        self.rng = rng
        self.lost = lost  # rows whose lease another loop took: never marked
        self.open: set[int] = set()
        self.widest = 0
        self.writes = 0

    async def write(self, w: Writes) -> set[int]:
        for _ in range(self.rng.randrange(3)):  # a write takes a while; others queue meanwhile
            await asyncio.sleep(0)
        self.writes += 1
        self.open -= {x.row["id"] for x in w.outcomes}
        marked = set(w.marks) - self.lost
        self.open |= marked
        self.widest = max(self.widest, len(self.open))
        return marked


async def _run(n: int, slots: int, seed: int, lost: set[int]) -> tuple[FakeDb, list[int]]:
    rng = random.Random(seed)
    db = FakeDb(rng, lost)
    window = HandOffWindow(db.write, lambda channel: slots)
    sent: list[int] = []

    async def one(i: int) -> None:
        async with window.slot("email"):
            if not await window.mark(i):
                return
            for _ in range(rng.randrange(4)):  # the provider call
                await asyncio.sleep(0)
            sent.append(i)
        await window.record(Outcome({"id": i}, "sent"))

    await asyncio.gather(*(one(i) for i in range(n)))
    await window.flush()
    return db, sent


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), slots=st.integers(1, 6), seed=st.integers(0, 10_000),
       lost=st.sets(st.integers(0, 60), max_size=5))
def test_marked_without_outcome_stays_within_the_slots(n: int, slots: int, seed: int, lost: set[int]) -> None:
    db, sent = asyncio.run(_run(n, slots, seed, lost))
    assert db.widest <= slots
    assert db.open == set()  # every outcome written in the end
    assert sorted(sent) == [i for i in range(n) if i not in lost]  # a lost row is never sent
    if n > slots:
        assert db.writes < 2 * n  # marks and outcomes share writes
