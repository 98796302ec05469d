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

from tidings.application.contacts.preferences import record_consent
from tidings.application.ports.contacts import SmsKeywordsUnitOfWork
from tidings.domain.changes import change_event
from tidings.domain.contacts import InvalidValue, normalise_phone
from tidings.domain.sms import keyword

STOP_REPLY = "You are unsubscribed and will get no more text messages. Reply START to opt back in."
START_REPLY = "You are subscribed to text messages again. Reply STOP to unsubscribe, HELP for help."
HELP_REPLY = "Reply STOP to unsubscribe from text messages, START to opt back in."
SUPPRESSION_REASON = "sms_stop"


@dataclass(frozen=True)
class InboundResult:
    keyword: str | None
    contact_id: int | None
    reply: str | None


def handle_inbound(uow: SmsKeywordsUnitOfWork, form: Mapping[str, str], now: datetime) -> InboundResult:
    """Apply a Twilio inbound message (``From``, ``To``, ``Body``, ``MessageSid``), in the
    caller's open unit of work."""
    word = keyword(form.get("Body", ""))
    if word is None or word == "help":
        return InboundResult(word, None, HELP_REPLY if word else None)
    try:
        phone = normalise_phone(form.get("From", ""))
    except InvalidValue:
        phone = form.get("From", "").strip()
    contact_id = uow.contacts.id_by("phone", phone)
    status = "unsubscribed" if word == "stop" else "granted"
    proof = {
        "keyword": form.get("Body", "").strip()[:40],
        "message_sid": form.get("MessageSid"),
        "from": phone,
        "to": form.get("To"),
        "received_at": now.isoformat(),
    }
    if contact_id is not None:
        consent = {"status": status, "source": "sms_keyword", "recorded_at": now, "proof": proof}
        uow.events.append_changes(record_consent(uow.consents, contact_id, "sms", consent, now, "sms"), now)
        if word == "stop":
            uow.outbox.skip_pending_marketing(contact_id, "sms", "the contact replied STOP")
    if word == "stop":
        uow.suppressions.add("sms", phone, SUPPRESSION_REASON, proof, now)
    else:
        uow.suppressions.lift("sms", phone, SUPPRESSION_REASON)
    return InboundResult(word, contact_id, STOP_REPLY if word == "stop" else START_REPLY)


# --------------------------------------------------------------------------- delivery receipts

#: Twilio error codes meaning "this number cannot get SMS" (unknown, landline, not mobile).
HARD_SMS_ERRORS = frozenset({"21211", "21614", "30005", "30006"})


def handle_status(
    uow: SmsKeywordsUnitOfWork, channel: str, outbox_id: int | None, form: Mapping[str, str], now: datetime
) -> str | None:
    """A provider's status callback for our outbox row ``outbox_id`` (from a verified signed
    ref, see ``twilio.status_outbox_id``): delivered / bounced events.

    Returns the event name appended, if any. Unknown rows, and rows of another channel, change nothing.
    """
    row = uow.outbox.get(outbox_id) if outbox_id is not None else None
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
            uow.suppressions.add("sms", row["recipient"], "hard_bounce", {"error_code": code}, now)
    else:
        return None
    sid = form.get("MessageSid") or form.get("CallSid") or str(outbox_id)
    event = change_event(row["contact_id"], name, props, now, "twilio")
    event["message_id"] = f"twilio:{sid}:{status}"[:200]
    if uow.events.has_message_id(event["message_id"]):
        return None
    uow.events.append_changes([event], now)
    return name
