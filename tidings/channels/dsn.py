"""SMTP delivery status notifications (RFC 3464) as bounce feedback.

A DSN is ``multipart/report; report-type=delivery-status`` with a ``message/delivery-status``
part: per-recipient fields ``Final-Recipient``, ``Action`` (failed | delayed | delivered...) and
``Status`` (5.x.x permanent, 4.x.x transient). The returned message (``message/rfc822`` or
``text/rfc822-headers``) carries our Message-ID, which links the bounce to its outbox row.

``parse_dsn`` works on raw bytes: a message the SMTP catcher received (``inbox.raw``), a
``.eml`` file or each message of an mbox file (``feedback_from_mailbox``) — no IMAP needed.
"""

from __future__ import annotations

import mailbox
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

from tidings.channels.bounces import HARD, SOFT, Feedback, domain_of


def _returned_message_id(report: Message) -> str | None:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip().strip("<>")
        elif ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = message_from_bytes(raw, policy=policy.compat32)
                if headers.get("Message-ID"):
                    return str(headers["Message-ID"]).strip().strip("<>")
    return None


def _status_groups(part: Message) -> list[Message]:
    """The per-message and per-recipient field groups of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    groups = [g for g in text.replace("\r\n", "\n").split("\n\n") if g.strip()]
    return [message_from_bytes(g.encode(), policy=policy.compat32) for g in groups]


def parse_dsn(raw: bytes) -> list[Feedback]:
    """Bounce feedback from one DSN; [] when the message is not a delivery-status report."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "delivery-status":
        return []
    ref = _returned_message_id(msg)
    dsn_id = str(msg.get("Message-ID", "")).strip().strip("<>") or None
    out: list[Feedback] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for group in _status_groups(part):
            recipient = group.get("Final-Recipient") or group.get("Original-Recipient")
            action = str(group.get("Action", "")).strip().lower()
            if not recipient or action not in {"failed", "delayed"}:
                continue
            address = str(recipient).split(";", 1)[-1].strip().strip("<>")
            status = str(group.get("Status", "")).strip()
            kind = HARD if action == "failed" and status.startswith("5") else SOFT
            out.append(
                Feedback(
                    kind,
                    address,
                    "dsn",
                    ref=dsn_id,
                    message_ref=ref,
                    sending_domain=domain_of(ref),
                    detail={
                        "status": status,
                        "action": action,
                        "diagnostic": str(group.get("Diagnostic-Code", "")).strip() or None,
                    },
                )
            )
    return out


def feedback_from_mailbox(path: str | Path) -> list[Feedback]:
    """Every DSN in an mbox file, or in one ``.eml`` message file."""
    p = Path(path)
    data = p.read_bytes()
    if data.startswith(b"From "):
        out: list[Feedback] = []
        for message in mailbox.mbox(str(p)):
            out += parse_dsn(message.as_bytes())
        return out
    return parse_dsn(data)
