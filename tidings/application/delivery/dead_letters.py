"""Dead letters: outgoing webhooks (or other effects) that gave up after their retries.

When a row has used its attempts the delivery loop moves it to ``dead`` and a ``dead_letters``
row says why, in one transaction (``store/outbox.finish``; ``bury`` does the same by hand).
An operator lists them (API ``GET /api/dead-letters``, CLI ``tidings dead-letters list``) and
retries one once the receiver is fixed: the outbox row goes back to ``pending`` with a fresh
attempt budget — or discards it (``discard``: the dead letter is set aside for good, the outbox row stays ``dead``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.application.ports.delivery import DeadLettersUnitOfWork


class DeadLetterError(LookupError):
    pass


def bury(uow: DeadLettersUnitOfWork, row: Mapping[str, Any], reason: str, now: datetime) -> None:
    """Move an outbox row to ``dead`` and list it (idempotent per outbox row).

    These use cases run in the caller's open unit of work (the delivery loop's, a route's)."""
    uow.outbox.mark_dead(int(row["id"]), reason)
    uow.dead_letters.record(int(row["id"]), int(row["contact_id"]), reason, now)


def list_dead_letters(
    uow: DeadLettersUnitOfWork, *, include_retried: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """Without ``include_retried``: the ones still waiting for a decision."""
    return uow.dead_letters.listing(include_decided=include_retried, limit=limit)


def _undecided(uow: DeadLettersUnitOfWork, dead_letter_id: int, discarded: str) -> dict[str, Any]:
    row = uow.dead_letters.get(dead_letter_id, for_update=True)
    if row is None:
        raise DeadLetterError(f"no dead letter {dead_letter_id}")
    if row["retried_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was already retried at {row['retried_at']}")
    if row["discarded_at"] is not None:
        raise DeadLetterError(f"dead letter {dead_letter_id} was {discarded} at {row['discarded_at']}")
    return row


def retry(uow: DeadLettersUnitOfWork, dead_letter_id: int, now: datetime) -> dict[str, Any]:
    """Put the dead row back in the outbox as pending, due now, with its attempts reset."""
    row = _undecided(uow, dead_letter_id, "discarded")
    uow.outbox.requeue(int(row["outbox_id"]), now)
    uow.dead_letters.mark_retried(dead_letter_id, now)
    return {"id": dead_letter_id, "outbox_id": row["outbox_id"], "status": "pending"}


def discard(uow: DeadLettersUnitOfWork, dead_letter_id: int, now: datetime) -> dict[str, Any]:
    """Set a dead letter aside for good: it leaves the list; its outbox row stays ``dead``."""
    row = _undecided(uow, dead_letter_id, "already discarded")
    uow.dead_letters.mark_discarded(dead_letter_id, now)
    return {"id": dead_letter_id, "outbox_id": row["outbox_id"], "status": "discarded"}
