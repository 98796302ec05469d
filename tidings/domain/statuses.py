"""Status vocabularies: one definition each; the values are what the ``status`` columns hold
and the API answers, so they never change."""

from __future__ import annotations

from enum import StrEnum


class JourneyStatus(StrEnum):
    """``journeys.status``: draft until first published, then active; paused holds its people
    (``application/journeys/paused.py``); archived ones are left out of the automation audit."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class EnrolmentStatus(StrEnum):
    """``enrollments.status``: active -> waiting -> active ... -> ended (see ``journeys/run.EDGES``)."""

    ACTIVE = "active"
    WAITING = "waiting"
    ENDED = "ended"


class OutboxStatus(StrEnum):
    """``outbox.status``: one row per effect (the life of a row is drawn in ``store/outbox.py``)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"
    DEAD = "dead"
    UNCERTAIN = "uncertain"


class TaskStatus(StrEnum):
    """``tasks.status``: a sales task is open until it is done or cancelled."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
