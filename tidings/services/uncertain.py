"""Use cases: messages that may or may not have reached their provider, and the operator's decision.

A message is ``uncertain`` when its sender stopped while handing it to a provider that cannot say
whether it got it (channels/delivery.py). Nothing resends it automatically. An operator decides,
for some or all of them: **mark as sent** (records ``message.sent``; the journey goes on) or
**resend** (back to the outbox, due now: the recipient may get it twice). Decisions are atomic
per row (store/uncertain.py): only rows still uncertain change, each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.channels import outbox
from tidings.channels.outbox import Outcome
from tidings.store import uncertain as store

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


def list_uncertain(conn: sa.Connection, now: datetime, *, limit: int = 500) -> list[dict[str, Any]]:
    """Uncertain messages with their provider, contact, age (seconds since the hand-off) and reason."""
    items = store.list_uncertain(conn, limit=limit)
    for i in items:
        since = i["handed_off_at"] or i["created_at"]
        i["age_s"] = max(0, int((now - since).total_seconds()))
        email, phone = i.pop("email"), i.pop("phone")
        i["contact"] = email or phone or f"#{i['contact_id']}"
    return items


def count_uncertain(conn: sa.Connection) -> int:
    return store.count_uncertain(conn)


def resolve(
    conn: sa.Connection, action: str, ids: Sequence[int] | None, now: datetime
) -> Resolution:
    """Decide for the given uncertain messages (``ids=None``: every uncertain message)."""
    if action not in ACTIONS:
        raise UncertainError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if ids is not None and not ids:
        raise UncertainError("choose at least one message (or all of them)")
    if action == RESEND:
        rows = store.take_for_resend(
            conn, ids, statuses=("uncertain",), now=now,
            reason="resent by an operator (was uncertain): it may arrive twice",
        )
        outcomes = [Outcome(r, "pending", error=r["error"], next_attempt_at=now, trace_action="message.resent")
                    for r in rows]
    else:
        rows = store.take_for_mark_sent(conn, ids)
        outcomes = [Outcome(r, "sent", error=r["error"], extra={"marked_by_operator": True},
                            trace_action="message.marked_sent") for r in rows]
    outbox.finish(conn, outcomes, now)  # message.sent events (mark sent) and traces
    result = Resolution(action, done=sorted(int(r["id"]) for r in rows))
    if ids is not None:
        rest = sorted(set(ids) - set(result.done))
        found = store.statuses_of(conn, rest)
        result.skipped = {i: found.get(i, "missing") for i in rest}
    return result


def resend_one(conn: sa.Connection, message_id: int, now: datetime) -> str | None:
    """One ``uncertain`` or ``failed`` message back to the outbox, atomically and once.

    Returns None when done, else the status that forbids it ("missing" when there is no such row)."""
    rows = store.take_for_resend(
        conn, [message_id], statuses=RESENDABLE, now=now, reason="resent by an operator: it may arrive twice"
    )
    if rows:
        outbox.finish(conn, [Outcome(rows[0], "pending", error=rows[0]["error"], next_attempt_at=now,
                                     trace_action="message.resent")], now)
        return None
    return store.statuses_of(conn, [message_id]).get(message_id, "missing")
