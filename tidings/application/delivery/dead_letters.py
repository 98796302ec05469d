"""Dead letters: outgoing webhooks (or other effects) that gave up after their retries.

The delivery loop calls ``bury`` when a row has used its attempts: the row goes to status
``dead`` and a ``dead_letters`` row says why, in one transaction. An operator lists them (API
``GET /api/dead-letters``, CLI ``tidings dead-letters list``) and retries one once the receiver
is fixed: the outbox row goes back to ``pending`` with a fresh attempt budget — or discards it
(``discard``: the dead letter is set aside for good, the outbox row stays ``dead``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

o = schema.outbox
d = schema.dead_letters


class DeadLetterError(LookupError):
    pass


def bury(conn: sa.Connection, row: dict[str, Any], reason: str, now: datetime) -> None:
    """Move an outbox row to ``dead`` and list it (idempotent per outbox row)."""
    conn.execute(
        sa.update(o)
        .where(o.c.id == row["id"])
        .values(status="dead", error=reason, lease_owner=None, lease_until=None)
    )
    existing = conn.execute(sa.select(d.c.id).where(d.c.outbox_id == row["id"])).first()
    if existing is None:
        conn.execute(
            sa.insert(d).values(
                outbox_id=row["id"], contact_id=row["contact_id"], reason=reason, created_at=now
            )
        )
    else:
        conn.execute(
            sa.update(d).where(d.c.id == existing[0]).values(reason=reason, created_at=now, retried_at=None)
        )


def record_dead(conn: sa.Connection, items: list[tuple[dict[str, Any], str]], now: datetime) -> None:
    """List rows the delivery loop has just moved to ``dead`` (``outbox.finish`` calls this)."""
    for row, reason in items:
        existing = conn.execute(sa.select(d.c.id).where(d.c.outbox_id == row["id"])).first()
        if existing is None:
            conn.execute(
                sa.insert(d).values(
                    outbox_id=row["id"], contact_id=row["contact_id"], reason=reason, created_at=now
                )
            )
        else:
            conn.execute(
                sa.update(d)
                .where(d.c.id == existing[0])
                .values(reason=reason, created_at=now, retried_at=None)
            )


def list_dead_letters(
    conn: sa.Connection, *, include_retried: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    query = (
        sa.select(
            d.c.id,
            d.c.outbox_id,
            d.c.contact_id,
            d.c.reason,
            d.c.created_at,
            d.c.retried_at,
            d.c.discarded_at,
            o.c.kind,
            o.c.channel,
            o.c.status,
            o.c.attempts,
            o.c.payload,
            o.c.step_id,
            o.c.journey_id,
            o.c.recipient,
            o.c.error,
        )
        .select_from(d.join(o, o.c.id == d.c.outbox_id, isouter=True))
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    if not include_retried:  # the ones still waiting for a decision
        query = query.where(d.c.retried_at.is_(None), d.c.discarded_at.is_(None))
    return [dict(r) for r in conn.execute(query).mappings()]


def retry(conn: sa.Connection, dead_letter_id: int, now: datetime) -> dict[str, Any]:
    """Put the dead row back in the outbox as pending, due now, with its attempts reset."""
    row = conn.execute(sa.select(d).where(d.c.id == dead_letter_id)).mappings().first()
    if row is None:
        raise DeadLetterError(f"no dead letter {dead_letter_id}")
    if row["retried_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was already retried at {row['retried_at']}")
    if row["discarded_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was discarded at {row['discarded_at']}")
    conn.execute(
        sa.update(o)
        .where(o.c.id == row["outbox_id"])
        .values(
            status="pending", attempts=0, next_attempt_at=now, error=None, lease_owner=None, lease_until=None
        )
    )
    conn.execute(sa.update(d).where(d.c.id == dead_letter_id).values(retried_at=now))
    return {"id": dead_letter_id, "outbox_id": row["outbox_id"], "status": "pending"}


def discard(conn: sa.Connection, dead_letter_id: int, now: datetime) -> dict[str, Any]:
    """Set a dead letter aside for good: it leaves the list; its outbox row stays ``dead``."""
    row = conn.execute(sa.select(d).where(d.c.id == dead_letter_id).with_for_update()).mappings().first()
    if row is None:
        raise DeadLetterError(f"no dead letter {dead_letter_id}")
    if row["retried_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was already retried at {row['retried_at']}")
    if row["discarded_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was already discarded at {row['discarded_at']}")
    conn.execute(sa.update(d).where(d.c.id == dead_letter_id).values(discarded_at=now))
    return {"id": dead_letter_id, "outbox_id": row["outbox_id"], "status": "discarded"}
