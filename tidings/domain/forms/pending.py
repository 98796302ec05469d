"""Double opt-in: a submission's confirmation state, pending -> confirmed | expired, one reminder.

Pure decisions over a :class:`Pending` record and ``now`` (the caller's clock): what the worker
pass does to it (send the reminder once, expire it), and whether a confirmation is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class PendingStatus(StrEnum):
    #: no double opt-in: consent recorded on submission
    DIRECT = "direct"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already_confirmed"
    EXPIRED = "expired"


class Action(StrEnum):
    REMIND = "remind"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    status: PendingStatus
    submitted_at: datetime
    remind_at: datetime | None
    expires_at: datetime | None
    reminded_at: datetime | None = None
    confirmed_at: datetime | None = None


def deadlines(submitted_at: datetime, remind_after_hours: int, expire_after_days: int) -> tuple[datetime, datetime]:
    """(remind at, expires at) of a submission."""
    return submitted_at + timedelta(hours=remind_after_hours), submitted_at + timedelta(days=expire_after_days)


def due_action(p: Pending, now: datetime) -> Action | None:
    """What the worker does now: expire a pending past its expiry, else remind it once."""
    if p.status is not PendingStatus.PENDING:
        return None
    if p.expires_at is not None and now >= p.expires_at:
        return Action.EXPIRE
    if p.reminded_at is None and p.remind_at is not None and now >= p.remind_at:
        return Action.REMIND
    return None


def apply(p: Pending, action: Action, now: datetime) -> Pending:
    if due_action(p, now) is not action:
        raise ValueError(f"{action} is not due for submission {p.id}")
    if action is Action.EXPIRE:
        return replace(p, status=PendingStatus.EXPIRED)
    return replace(p, reminded_at=now)


def confirm(p: Pending, now: datetime) -> tuple[Pending, Outcome]:
    """The record after a click on the link, and what the page says. Confirming twice is harmless."""
    if p.status is PendingStatus.CONFIRMED:
        return p, Outcome.ALREADY
    if p.status is PendingStatus.EXPIRED or (p.expires_at is not None and now >= p.expires_at):
        return p, Outcome.EXPIRED
    if p.status is not PendingStatus.PENDING:
        raise ValueError(f"submission {p.id} needs no confirmation ({p.status})")
    return replace(p, status=PendingStatus.CONFIRMED, confirmed_at=now), Outcome.CONFIRMED
