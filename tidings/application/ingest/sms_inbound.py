"""Inbound SMS keywords: STOP opts the sender out of SMS, START opts back in, HELP answers.

The opt-out is recorded as the contact's ``sms`` consent (status ``unsubscribed``, source
``sms_keyword``, the message as proof), which appends ``consent.changed`` and enqueues the
contact in the same transaction, and pending marketing SMS that no delivery loop has started are
skipped at once. A number we do not know yet is put on the SMS suppression list, so an opt-out
is honoured even before the contact exists; START lifts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from tidings.domain.contacts import InvalidValue, normalise_phone
from tidings.domain.sms import keyword
from tidings.store import schema

STOP_REPLY = "You are unsubscribed and will get no more text messages. Reply START to opt back in."
START_REPLY = "You are subscribed to text messages again. Reply STOP to unsubscribe, HELP for help."
HELP_REPLY = "Reply STOP to unsubscribe from text messages, START to opt back in."
SUPPRESSION_REASON = "sms_stop"


@dataclass(frozen=True)
class InboundResult:
    keyword: str | None
    contact_id: int | None
    reply: str | None


def handle_inbound(conn: sa.Connection, form: Mapping[str, str], now: datetime) -> InboundResult:
    """Apply a Twilio inbound message (``From``, ``To``, ``Body``, ``MessageSid``)."""
    word = keyword(form.get("Body", ""))
    if word is None or word == "help":
        return InboundResult(word, None, HELP_REPLY if word else None)
    try:
        phone = normalise_phone(form.get("From", ""))
    except InvalidValue:
        phone = form.get("From", "").strip()
    c = schema.contacts
    contact_id = conn.execute(sa.select(c.c.id).where(c.c.phone == phone)).scalar()
    status = "unsubscribed" if word == "stop" else "granted"
    proof = {
        "keyword": form.get("Body", "").strip()[:40],
        "message_sid": form.get("MessageSid"),
        "from": phone,
        "to": form.get("To"),
        "received_at": now.isoformat(),
    }
    if contact_id is not None:
        from tidings.application.contacts.contacts import update_contact

        update_contact(
            conn,
            contact_id,
            {
                "consent": {
                    "sms": {"status": status, "source": "sms_keyword", "recorded_at": now, "proof": proof}
                }
            },
            now,
            source="sms",
        )
        if word == "stop":
            from tidings.store.outbox import skip_pending_for

            skip_pending_for(conn, contact_id, "sms", now, "the contact replied STOP")
    s = schema.suppressions
    if word == "stop":
        exists = conn.execute(
            sa.select(s.c.address).where(s.c.channel == "sms", s.c.address == phone)
        ).first()
        if exists is None:
            conn.execute(
                sa.insert(s).values(
                    channel="sms", address=phone, reason=SUPPRESSION_REASON, detail=proof, created_at=now
                )
            )
    else:
        conn.execute(
            sa.delete(s).where(s.c.channel == "sms", s.c.address == phone, s.c.reason == SUPPRESSION_REASON)
        )
    return InboundResult(word, contact_id, STOP_REPLY if word == "stop" else START_REPLY)


# --------------------------------------------------------------------------- delivery receipts

#: Twilio error codes meaning "this number cannot get SMS" (unknown, landline, not mobile).
HARD_SMS_ERRORS = frozenset({"21211", "21614", "30005", "30006"})


def handle_status(
    conn: sa.Connection, channel: str, outbox_id: int | None, form: Mapping[str, str], now: datetime
) -> str | None:
    """A provider's status callback for our outbox row ``outbox_id`` (from a verified signed
    ref, see ``twilio.status_outbox_id``): delivered / bounced events.

    Returns the event name appended, if any. Unknown rows, and rows of another channel, change nothing.
    """
    from tidings.application.contacts import changes
    from tidings.store.outbox import row_by_id

    row = row_by_id(conn, outbox_id) if outbox_id is not None else None
    if row is None or (row["channel"] or row["kind"]) != channel:
        return None
    status = (form.get("MessageStatus") or form.get("CallStatus") or "").lower()
    props = {
        "message_id": row["id"],
        "channel": row["channel"],
        "template": row["template"],
        "journey": row["journey_id"],
        "step": row["step_id"],
    }
    if status in {"delivered", "completed"}:
        name = "message.delivered"
    elif channel == "sms" and status in {"undelivered", "failed"}:
        code = str(form.get("ErrorCode") or "")
        hard = code in HARD_SMS_ERRORS
        name = "message.bounced"
        props |= {"bounce_type": "hard" if hard else "soft", "error_code": code or None}
        if hard and row.get("recipient"):
            s = schema.suppressions
            if (
                conn.execute(
                    sa.select(s.c.address).where(s.c.channel == "sms", s.c.address == row["recipient"])
                ).first()
                is None
            ):
                conn.execute(
                    sa.insert(s).values(
                        channel="sms",
                        address=row["recipient"],
                        reason="hard_bounce",
                        detail={"error_code": code},
                        created_at=now,
                    )
                )
    else:
        return None
    sid = form.get("MessageSid") or form.get("CallSid") or str(outbox_id)
    event = changes.change_event(row["contact_id"], name, props, now, "twilio")
    event["message_id"] = f"twilio:{sid}:{status}"[:200]
    if conn.execute(
        sa.select(schema.events.c.id).where(schema.events.c.message_id == event["message_id"])
    ).first():
        return None
    changes.record(conn, [event], now)
    return name
