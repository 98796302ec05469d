"""The outbox as the delivery loop sees it: claims with leases, outcomes, recovery. All SQL here.

Statuses (one row = one effect, ``status`` column)::

    pending --claim--> sending --hand off--> sending + handed_off_at --accepted--> sent
                                  |                     --temporary failure--> pending (+ backoff)
                                  |                                            | failed (MAX_ATTEMPTS)
                                  |                     --permanent failure--> failed
                                  --stop (SIGTERM) / lease expired--> pending (never handed off)
    pending --claim, consent/pause/topic says no--> skipped
    pending --claim, address suppressed--> suppressed
    sending + handed_off_at, lease expired (sender died) --provider confirms--> sent
                                     --provider says never received--> pending
                                     --provider cannot tell--> uncertain (never resent blindly)
    uncertain | failed --operator: resend--> pending;  uncertain --operator: mark sent--> sent

**Hand-off.** ``handed_off_at`` is written (one small write per group, ``hand_off``) right before
the provider call of that message, and the outcome right after; a delivery loop keeps at most
its providers' concurrency of messages in between (``delivery.py``). A message claimed or
rendered but not handed off cannot have reached the provider: when its sender dies, it goes
back to ``pending`` once the lease runs out (``release_expired``). Leases are short and renewed
by the sender while it works (``heartbeat``), and run on the lease clock (real time), never on
the business clock a test moves in jumps.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (ignored by SQLite, whose writers are
serialised by ``BEGIN IMMEDIATE``), so any number of delivery loops can share one outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tidings.domain.changes import message_event_properties as message_event_properties
from tidings.domain.statuses import OutboxStatus
from tidings.store import schema
from tidings.store.citus import is_citus
from tidings.store.delivery_sql import SqlDeadLetters, SqlOutbox
from tidings.store.queue import enqueue_contacts

o = schema.outbox

#: default lease of a claimed row (``TIDINGS_DELIVERY_LEASE``); the sender renews it every third.
LEASE = timedelta(seconds=15)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)

TERMINAL = (
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.FAILED,
    OutboxStatus.SUPPRESSED,
    OutboxStatus.SKIPPED,
    OutboxStatus.DEAD,
    OutboxStatus.UNCERTAIN,
)


def backoff(attempts: int, retry_after_s: float | None = None) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 6 h; a provider's Retry-After wins when longer."""
    delay: timedelta = min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)
    if retry_after_s:
        delay = max(delay, timedelta(seconds=retry_after_s))
    return delay


def _locked(conn: sa.Connection, candidates: sa.Select[Any]) -> list[int]:
    """The ids of a claim's candidates, locked and skipping rows another claimer holds (``SKIP
    LOCKED``), read by a statement of their own.

    Not a subquery of the claim's ``UPDATE``: PostgreSQL may plan ``id IN (SELECT ... LIMIT n FOR
    UPDATE SKIP LOCKED)`` as a nested loop that runs the subquery again for every outer row (it
    does on a young outbox without statistics), and a claim then took the whole backlog, in
    quadratic time, instead of ``n`` rows. Read first, the limit holds whatever the plan.

    Citus runs ``FOR UPDATE`` only on single-shard queries: there the candidates are read
    without locks and the claim's ``UPDATE`` repeats their condition, which PostgreSQL re-checks
    on each row after waiting for its lock, so a row another claimer took is not taken twice.
    """
    query = candidates if is_citus(conn) else candidates.with_for_update(skip_locked=True)
    return [int(i) for i in conn.execute(query).scalars()]


def claim(
    conn: sa.Connection,
    *,
    owner: str,
    now: datetime,
    limit: int,
    kinds: Sequence[str],
    lease_until: datetime,
    held_channels: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due pending rows: status -> sending, leased to ``owner``.

    ``now`` is business time (what is due); ``lease_until`` is on the lease clock (real time).
    Rows on ``held_channels`` (the kill switch, ``application/control/sending.py``) stay pending.
    """
    is_due = (o.c.status == OutboxStatus.PENDING, o.c.next_attempt_at <= now)
    due = _locked(
        conn,
        sa.select(o.c.id)
        .where(*is_due, o.c.kind.in_(kinds))
        .where(o.c.channel.not_in(list(held_channels)) if held_channels else sa.true())
        .order_by(o.c.next_attempt_at, o.c.id)
        .limit(limit),
    )
    if not due:
        return []
    rows = (
        conn.execute(
            sa.update(o)
            .where(o.c.id.in_(due), *is_due)
            .values(
                status=OutboxStatus.SENDING,
                lease_owner=owner,
                lease_until=lease_until,
                handed_off_at=None,
                attempts=o.c.attempts + 1,
            )
            .returning(*o.c)
        )
        .mappings()
        .all()
    )
    return sorted((dict(r) for r in rows), key=lambda r: r["id"])


def hand_off(conn: sa.Connection, ids: Sequence[int], *, owner: str, at: datetime) -> set[int]:
    """Mark rows as about to be handed to their provider; returns the ids still ours to send.

    A row whose lease we lost (another loop recovered it) is not marked and must not be sent.
    Only claims set ``lease_owner`` (to rows they put in ``sending``) and every outcome clears it,
    so the owner test is the status test too; a ``status`` condition would make SQLite scan the
    whole ``sending`` status index instead of looking the ids up."""
    if not ids:
        return set()
    marked = conn.execute(
        sa.update(o)
        .where(o.c.id.in_(list(ids)), o.c.lease_owner == owner)
        .values(handed_off_at=at)
        .returning(o.c.id)
    )
    return {int(i) for i in marked.scalars()}


def heartbeat(conn: sa.Connection, ids: Sequence[int], *, owner: str, lease_until: datetime) -> int:
    """The sender is alive: extend the lease of the rows it holds."""
    if not ids:
        return 0
    result = conn.execute(
        sa.update(o)
        .where(o.c.id.in_(list(ids)), o.c.lease_owner == owner)
        .values(lease_until=lease_until)
    )
    return int(result.rowcount or 0)


def release(conn: sa.Connection, *, owner: str, ids: Sequence[int] | None = None) -> int:
    """Give claimed rows that were never handed off back to ``pending`` (their attempt unused).

    ``ids=None``: every such row of ``owner`` (a stopping loop's last word)."""
    cond = [o.c.status == OutboxStatus.SENDING, o.c.lease_owner == owner, o.c.handed_off_at.is_(None)]
    if ids is not None:
        if not ids:
            return 0
        cond.append(o.c.id.in_(list(ids)))
    result = conn.execute(
        sa.update(o)
        .where(*cond)
        .values(status=OutboxStatus.PENDING, lease_owner=None, lease_until=None, attempts=o.c.attempts - 1)
    )
    return int(result.rowcount or 0)


def release_expired(conn: sa.Connection, *, lease_now: datetime) -> int:
    """Rows a dead sender claimed (or rendered) but never handed off: back to ``pending``."""
    result = conn.execute(
        sa.update(o)
        .where(o.c.status == OutboxStatus.SENDING, o.c.lease_until < lease_now, o.c.handed_off_at.is_(None))
        .values(
            status=OutboxStatus.PENDING,
            lease_owner=None,
            lease_until=None,
            attempts=o.c.attempts - 1,
            error="the sender stopped before handing it off; sent again",
        )
    )
    return int(result.rowcount or 0)


def claim_expired(
    conn: sa.Connection, *, owner: str, limit: int, lease_now: datetime, lease_until: datetime
) -> list[dict[str, Any]]:
    """Rows handed off by a sender whose lease ran out: they may or may not have gone."""
    is_stale = (
        o.c.status == OutboxStatus.SENDING,
        o.c.handed_off_at.is_not(None),
        o.c.lease_until < lease_now,
        # never our own rows: they are in flight here.
        sa.or_(o.c.lease_owner.is_(None), o.c.lease_owner != owner),
    )
    stale = _locked(conn, sa.select(o.c.id).where(*is_stale).order_by(o.c.id).limit(limit))
    if not stale:
        return []
    rows = (
        conn.execute(
            sa.update(o)
            .where(o.c.id.in_(stale), *is_stale)
            .values(lease_owner=owner, lease_until=lease_until)
            .returning(*o.c)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


@dataclass
class Outcome:
    """What happened to one claimed row; ``finish`` writes a batch of them in one transaction."""

    row: dict[str, Any]
    status: str  # sent | pending | failed | skipped | suppressed | uncertain
    error: str | None = None
    provider_message_id: str | None = None
    next_attempt_at: datetime | None = None
    #: written as a trace entry (why it was skipped/suppressed/failed) when set.
    trace_action: str | None = None
    trace_detail: dict[str, Any] = field(default_factory=dict)
    #: event properties added to message.sent.
    extra: dict[str, Any] = field(default_factory=dict)


def save_rendered(conn: sa.Connection, items: Iterable[tuple[int, str, str | None, dict[str, Any]]]) -> None:
    """Keep what we are about to send (before sending: clicks and recovery need it)."""
    params = [{"_id": i, "_recipient": r, "_subject": s, "_rendered": d} for i, r, s, d in items]
    if params:
        conn.execute(
            sa.update(o)
            .where(o.c.id == sa.bindparam("_id"))
            .values(
                recipient=sa.bindparam("_recipient"),
                subject=sa.bindparam("_subject"),
                rendered=sa.bindparam("_rendered"),
            ),
            params,
        )


def finish(conn: sa.Connection, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write outcomes, message.sent events (+ enqueue contacts) and traces in one transaction."""
    if not outcomes:
        return
    conn.execute(
        sa.update(o)
        .where(o.c.id == sa.bindparam("_id"))
        .values(
            status=sa.bindparam("_status"),
            error=sa.bindparam("_error"),
            provider_message_id=sa.bindparam("_pmid"),
            next_attempt_at=sa.bindparam("_next"),
            sent_at=sa.bindparam("_sent_at"),
            lease_owner=None,
            lease_until=None,
        ),
        [
            {
                "_id": x.row["id"],
                "_status": x.status,
                "_error": x.error,
                "_pmid": x.provider_message_id or x.row.get("provider_message_id"),
                "_next": x.next_attempt_at or x.row["next_attempt_at"],
                "_sent_at": now if x.status == OutboxStatus.SENT else x.row.get("sent_at"),
            }
            for x in outcomes
        ],
    )
    events = [
        {
            "contact_id": x.row["contact_id"],
            "name": "message.sent",
            "properties": message_event_properties(x.row) | x.extra,
            "occurred_at": now,
            "received_at": now,
            "source": "delivery",
            # one message.sent per outbox row, even if a recovery races a send.
            "message_id": f"sent:{x.row['id']}",
        }
        for x in outcomes
        if x.status == OutboxStatus.SENT and x.row["kind"] == "message"
    ]
    if events:
        conn.execute(_insert_ignoring_duplicates(conn, schema.events), events)
        enqueue_contacts(conn, [e["contact_id"] for e in events], now)
    traces = [
        {
            "contact_id": x.row["contact_id"],
            "enrollment_id": x.row.get("enrollment_id"),
            "journey_id": x.row.get("journey_id"),
            "journey_version": x.row.get("journey_version"),
            "step_id": x.row.get("step_id"),
            "stimulus": "delivery",
            "action": x.trace_action,
            "detail": {"error": x.error, **x.trace_detail},
            "outbox_id": x.row["id"],
            "at": now,
        }
        for x in outcomes
        if x.trace_action
    ]
    if traces:
        conn.execute(sa.insert(schema.traces), traces)
    dead = [(x.row, x.error or "gave up") for x in outcomes if x.status == OutboxStatus.DEAD]
    if dead:  # webhooks that gave up: listed for an operator to retry (application/delivery/dead_letters.py)
        record_dead(conn, dead, now)


def _insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def skip_pending_for(conn: sa.Connection, contact_id: int, channel: str, now: datetime, reason: str) -> int:
    """Unsubscribe takes effect at once: pending marketing messages of that contact and channel
    that no delivery loop has started are skipped (the loop re-checks consent at claim time too)."""
    return SqlOutbox(conn).skip_pending_marketing(contact_id, channel, reason)


def record_dead(conn: sa.Connection, items: list[tuple[dict[str, Any], str]], now: datetime) -> None:
    """List rows the delivery loop has just moved to ``dead`` (``finish`` calls this; an operator
    retries or discards them through ``application/delivery/dead_letters.py``)."""
    dead_letters = SqlDeadLetters(conn)
    for row, reason in items:
        dead_letters.record(int(row["id"]), int(row["contact_id"]), reason, now)


def row_for_ref(conn: sa.Connection, message_ref: str | None) -> dict[str, Any] | None:
    """The outbox row of our Message-ID (``<outbox id>.<hash>@<domain>``)."""
    if not message_ref:
        return None
    ref = message_ref.strip().strip("<>")
    row = conn.execute(sa.select(o).where(o.c.provider_message_id == ref).limit(1)).mappings().first()
    if row is None:
        head = ref.split(".", 1)[0]
        if head.isdigit():
            row = conn.execute(sa.select(o).where(o.c.id == int(head))).mappings().first()
            if row is not None and (row["rendered"] or {}).get("message_ref") != ref:
                row = None  # a forged or foreign id that only happens to start with a number
    return dict(row) if row is not None else None


def row_by_id(conn: sa.Connection, outbox_id: int) -> dict[str, Any] | None:
    """One outbox row by its id (a status callback's verified signed ref names it)."""
    row = conn.execute(sa.select(o).where(o.c.id == outbox_id)).mappings().first()
    return dict(row) if row is not None else None
