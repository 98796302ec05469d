"""SQL of the delivery loop (``channels/delivery.py``, ``channels/prepare.py``): its claims, the
claim-time reads of a batch, and the hand-off writer on its own kept connection.

The loop calls a ``SqlDeliveryLoop``; it holds no connection itself. Statements are the ones of
``store/outbox.py`` (claims, leases, hand-off marks, outcomes); this module opens their
transactions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.domain.templates import TemplateSource
from tidings.store import outbox, schema
from tidings.store.control import paused_channels
from tidings.store.db import read_only
from tidings.store.feedback_sql import SqlFeedback
from tidings.store.outbox import Outcome
from tidings.store.templates import find_template

log = logging.getLogger("tidings.store.delivery_loop_sql")

T = TypeVar("T")
#: (outbox id, recipient, subject, rendered document) written before sending.
RenderedRow = tuple[int, str, str | None, dict[str, Any]]


class SqlDeliveryReads:
    """The ``DeliveryReads`` port (``application/ports/delivery.py``; twin
    ``store/memory/delivery_reads.py``): what a claimed batch is checked and rendered against,
    read in one transaction: one query per table for the whole batch."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        #: sending domains paused for bounce rates (``channels/bounces.py``).
        self.feedback = SqlFeedback(conn)

    def contacts(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        c = schema.contacts
        cols = [
            c.c.id,
            c.c.external_id,
            c.c.email,
            c.c.phone,
            c.c.first_name,
            c.c.last_name,
            c.c.timezone,
            c.c.locale,
            c.c.attributes,
            c.c.lifecycle_stage,
            c.c.owner,
            c.c.score,
        ]
        q = sa.select(*cols).where(c.c.id.in_(list(ids)))
        return {r["id"]: dict(r) for r in self.conn.execute(q).mappings()}

    def consents(self, ids: Sequence[int]) -> dict[tuple[int, str], dict[str, Any]]:
        t = schema.consents
        q = sa.select(t.c.contact_id, t.c.channel, t.c.status, t.c.topics, t.c.paused_until).where(
            t.c.contact_id.in_(list(ids))
        )
        return {(r["contact_id"], r["channel"]): dict(r) for r in self.conn.execute(q).mappings()}

    def tags(self, ids: Sequence[int]) -> dict[int, list[str]]:
        t = schema.contact_tags
        out: dict[int, list[str]] = {}
        for cid, tag in self.conn.execute(sa.select(t.c.contact_id, t.c.tag).where(t.c.contact_id.in_(list(ids)))):
            out.setdefault(cid, []).append(tag)
        return out

    def suppressed(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (channel, lower-case address) pairs that are on the suppression list."""
        if not pairs:
            return set()
        s = schema.suppressions
        addresses = sorted({a for _, a in pairs})
        q = sa.select(s.c.channel, sa.func.lower(s.c.address)).where(sa.func.lower(s.c.address).in_(addresses))
        return {(ch, addr) for ch, addr in self.conn.execute(q)} & pairs

    def template(self, key: str, locale: str) -> TemplateSource | None:
        """The best variant of ``key`` for ``locale`` (``store/templates.find_template``)."""
        return find_template(self.conn, key, locale)


class KeptWriter:
    """Transactions on one kept connection, for the delivery loop's writer thread only.

    A hand-off mark waits for one write, so a pool checkout (with its pre-ping round trip) per
    write would be latency on every message: the connection stays open between writes. A failed
    write drops it (the next one reconnects).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: sa.Connection | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        conn = self.conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self.conn = self.engine.connect()
        try:
            with conn.begin():
                yield conn
        except BaseException:
            self.conn = None
            with contextlib.suppress(Exception):
                conn.close()
            raise

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """``work`` in one transaction. A kept connection can have died since its last write (the
        database restarted): the transaction then rolled back whole, so it is run once more on a
        new connection — no write is applied twice."""
        try:
            with self.transaction() as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("delivery writer: the database connection was lost; writing again on a new one")
        with self.transaction() as conn:
            return work(conn)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SqlDeliveryLoop:
    """The delivery loop's transactions. ``claim`` ... ``record`` run on the loop's database
    thread (pooled connections); ``write_window``, ``heartbeat`` and ``release_all`` on its writer
    thread (the kept connection of ``writer``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = KeptWriter(engine)

    def claim(
        self, *, owner: str, now: datetime, limit: int, kinds: Sequence[str], lease_until: datetime
    ) -> list[dict[str, Any]]:
        """Due pending rows leased to ``owner``; none while the kill switch holds everything."""
        with self.engine.begin() as conn:
            everything, held = paused_channels(conn)  # the kill switch holds them pending
            if everything:
                return []
            return outbox.claim(
                conn, owner=owner, now=now, limit=limit, kinds=kinds, held_channels=held, lease_until=lease_until
            )

    @contextlib.contextmanager
    def reading(self) -> Iterator[SqlDeliveryReads]:
        """One reader transaction (SQLite: ``BEGIN DEFERRED``) for a batch's checks and renders."""
        with self.engine.connect() as raw:
            conn = read_only(raw)
            with conn.begin():
                yield SqlDeliveryReads(conn)

    def save_decisions(self, rendered: Sequence[RenderedRow], decided: Sequence[Outcome], now: datetime) -> None:
        """What was rendered (before sending) and what was decided without sending, in one write."""
        with self.engine.begin() as conn:
            outbox.save_rendered(conn, rendered)
            outbox.finish(conn, decided, now)

    def claim_expired(
        self, *, owner: str, limit: int, lease_now: datetime, lease_until: datetime
    ) -> tuple[int, list[dict[str, Any]]]:
        """(rows of dead senders never handed off, released; those handed off, claimed to resolve)."""
        with self.engine.begin() as conn:
            released = outbox.release_expired(conn, lease_now=lease_now)
            rows = outbox.claim_expired(
                conn, owner=owner, limit=limit, lease_now=lease_now, lease_until=lease_until
            )
        return released, rows

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        if outcomes:
            with self.engine.begin() as conn:
                outbox.finish(conn, outcomes, now)

    # ----------------------------------------------------------------- the writer thread

    def write_window(
        self, outcomes: Sequence[Outcome], releases: Sequence[int], marks: Sequence[int], *, owner: str, now: datetime
    ) -> set[int]:
        """Outcomes, releases and hand-off marks in one write; the ids marked."""

        def work(conn: sa.Connection) -> set[int]:
            outbox.finish(conn, outcomes, now)
            outbox.release(conn, owner=owner, ids=releases)
            return outbox.hand_off(conn, marks, owner=owner, at=now)

        return self.writer.run(work)

    def heartbeat(self, ids: Sequence[int], *, owner: str, lease_until: datetime) -> int:
        return self.writer.run(lambda conn: outbox.heartbeat(conn, ids, owner=owner, lease_until=lease_until))

    def release_all(self, *, owner: str) -> int:
        return self.writer.run(lambda conn: outbox.release(conn, owner=owner))

    def close(self) -> None:
        """After the writer thread stopped: no one else uses its connection."""
        self.writer.close()
