"""Use cases: messages that may or may not have reached their provider, and the operator's decision.

A message is ``uncertain`` when its sender stopped while handing it to a provider that cannot say
whether it got it (channels/delivery.py). Nothing resends it automatically. An operator decides,
for some or all of them: **mark as sent** (records ``message.sent``; the journey goes on) or
**resend** (back to the outbox, due now: the recipient may get it twice). Decisions are atomic
per row (``store/uncertain.py`` implements :class:`UncertainMessages`): only rows still in the
expected status change, each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

MARK_SENT = "mark_sent"
RESEND = "resend"
ACTIONS = (MARK_SENT, RESEND)
#: statuses the one-message resend (``POST /api/messages/{id}/resend``) accepts.
RESENDABLE = ("uncertain", "failed")

WARNINGS = {
    MARK_SENT: "Marking as sent records that the recipient got the message: if the provider never had it, "
    "it is lost.",
    RESEND: "Resending hands the message to the provider again: if the provider had it already, the "
    "recipient gets it twice.",
}


class UncertainMessages(Protocol):
    """The outbox as these use cases need it (one transaction per use case)."""

    def uncertain(self, *, limit: int) -> list[dict[str, Any]]:
        """Uncertain rows, oldest first, with contact email/phone and the provider that had them."""
        ...

    def count_uncertain(self) -> int: ...

    def resend(
        self, ids: Sequence[int] | None, *, statuses: Sequence[str], now: datetime, reason: str
    ) -> list[int]:
        """Rows in ``statuses`` (all when ``ids`` is None) back to pending, due now; their ids."""
        ...

    def mark_sent(self, ids: Sequence[int] | None, *, now: datetime) -> list[int]:
        """Uncertain rows (all when ``ids`` is None) to sent, with their message.sent events."""
        ...

    def statuses(self, ids: Sequence[int]) -> dict[int, str]: ...


class UncertainError(ValueError):
    """A decision that cannot be taken as asked (bad action, nothing chosen)."""


@dataclass
class Resolution:
    action: str
    done: list[int] = field(default_factory=list)
    #: ids asked for that were not uncertain (any more): id -> their status, or "missing".
    skipped: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "done": self.done, "skipped": {str(k): v for k, v in self.skipped.items()}}


def list_uncertain(repo: UncertainMessages, now: datetime, *, limit: int = 500) -> list[dict[str, Any]]:
    """Uncertain messages with their provider, contact, age (seconds since the hand-off) and reason."""
    items = repo.uncertain(limit=limit)
    for i in items:
        since: datetime = i["handed_off_at"] or i["created_at"]
        i["age_s"] = max(0, int((now - since).total_seconds()))
        email, phone = i.pop("email"), i.pop("phone")
        i["contact"] = email or phone or f"#{i['contact_id']}"
    return items


def resolve(repo: UncertainMessages, action: str, ids: Sequence[int] | None, now: datetime) -> Resolution:
    """Decide for the given uncertain messages (``ids=None``: every uncertain message)."""
    if action not in ACTIONS:
        raise UncertainError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if ids is not None and not ids:
        raise UncertainError("choose at least one message (or all of them)")
    if action == RESEND:
        done = repo.resend(
            ids, statuses=("uncertain",), now=now, reason="resent by an operator (was uncertain): it may arrive twice"
        )
    else:
        done = repo.mark_sent(ids, now=now)
    result = Resolution(action, done=sorted(done))
    if ids is not None:
        rest = sorted(set(ids) - set(done))
        found = repo.statuses(rest)
        result.skipped = {i: found.get(i, "missing") for i in rest}
    return result


def resend_one(repo: UncertainMessages, message_id: int, now: datetime) -> str | None:
    """One ``uncertain`` or ``failed`` message back to the outbox, atomically and once.

    Returns None when done, else the status that forbids it ("missing" when there is no such row)."""
    if repo.resend([message_id], statuses=RESENDABLE, now=now, reason="resent by an operator: it may arrive twice"):
        return None
    return repo.statuses([message_id]).get(message_id, "missing")
