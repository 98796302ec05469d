"""From claimed outbox rows to ready messages: consent, suppression, preferences, rendering.

Runs right before sending (claim time), so an unsubscribe, a pause or a suppression recorded a
moment ago is honoured. Rules:

- **suppression** (hard bounce, complaint, manual) applies to every category: ``suppressed``;
- **marketing** needs consent ``granted`` for the channel, no active pause (``paused_until``)
  and the template's topic not switched off in the preference centre: else ``skipped``;
- **transactional** skips consent, pause and topics, never suppression;
- a template that fails to render fails *that* message (``failed``, with the line and a trace);
  nothing half-rendered is sent.

Reads are batched: one query per table for the whole claim.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache, partial
from typing import Any

from tidings.application.ports.delivery import DeliveryReads
from tidings.application.ports.senders import DIRECT_MAIL, EMAIL, SMS, TRANSACTIONAL, VOICE, OutgoingMessage
from tidings.channels import tracking
from tidings.domain.statuses import OutboxStatus
from tidings.domain.templates import TemplateError, TemplateSource, contact_context, locale_candidates, render
from tidings.store.db import DatabaseError
from tidings.store.delivery_loop_sql import RenderedRow
from tidings.store.outbox import Outcome

log = logging.getLogger("tidings.channels.prepare")

#: where a channel's address lives on the contact.
ADDRESS_FIELD: dict[str, str] = {EMAIL: "email", SMS: "phone", VOICE: "phone"}
#: the consent a channel needs (consents.channel): calls need consent to "phone".
CONSENT_CHANNEL: dict[str, str] = {VOICE: "phone"}


@dataclass(frozen=True)
class Links:
    secret: str
    public_url: str
    default_from: str


def message_ref(row: Mapping[str, Any], domain: str) -> str:
    """Our Message-ID: stable for the outbox row (a retry keeps it), not guessable."""
    digest = hashlib.blake2s(str(row["idempotency_key"]).encode(), digest_size=8).hexdigest()
    return f"{row['id']}.{digest}@{domain}"


@lru_cache(maxsize=256)
def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rpartition("@")[2] or "tidings.localhost"


class Preparer:
    """Turns a batch of claimed rows into (messages to send, outcomes decided without sending)."""

    def __init__(self, links: Links) -> None:
        self.links = links

    def prepare(
        self, reads: DeliveryReads, rows: Sequence[dict[str, Any]], now: datetime
    ) -> tuple[list[tuple[dict[str, Any], OutgoingMessage]], list[Outcome], list[RenderedRow]]:
        """Reads only: (ready to send, decided without sending, what to store as rendered)."""
        contact_ids = sorted({r["contact_id"] for r in rows})
        contacts = reads.contacts(contact_ids)
        consents = reads.consents(contact_ids)
        tags = reads.tags(contact_ids)
        suppressed = reads.suppressed(_address_pairs(rows, contacts))
        self._paused = reads.feedback.paused_domains()  # sending domains paused for bounce rates
        templates: dict[tuple[str, str], TemplateSource | None] = {}
        ready: list[tuple[dict[str, Any], OutgoingMessage]] = []
        decided: list[Outcome] = []
        rendered_rows: list[RenderedRow] = []
        for row in rows:
            try:
                if row["kind"] != "message":
                    ready.append((row, self._passthrough(row, contacts.get(row["contact_id"]))))
                    continue
                result = self._message(row, now, contacts, consents, tags, suppressed, templates, reads)
            except TemplateError as exc:
                decided.append(
                    Outcome(
                        row,
                        OutboxStatus.FAILED,
                        error=f"template {row['template']!r}: {exc}",
                        trace_action="message.failed",
                        trace_detail={"line": exc.line},
                    )
                )
                continue
            except DatabaseError:
                raise  # the database, not this message: the round is retried
            except Exception as exc:  # one odd row must not hold the whole batch
                log.exception("preparing outbox %s failed", row["id"])
                decided.append(
                    Outcome(
                        row,
                        OutboxStatus.FAILED,
                        error=f"cannot prepare: {type(exc).__name__}: {exc}",
                        trace_action="message.failed",
                    )
                )
                continue
            if isinstance(result, Outcome):
                decided.append(result)
            else:
                msg, rendered = result
                ready.append((row, msg))
                rendered_rows.append((row["id"], msg.recipient, msg.subject, rendered))
        return ready, decided, rendered_rows

    def _passthrough(self, row: dict[str, Any], contact: dict[str, Any] | None) -> OutgoingMessage:
        """Webhooks, tasks...: no consent, no template; the payload is the message."""
        payload = dict(row["payload"] or {})
        return OutgoingMessage(
            outbox_id=row["id"],
            channel=row["channel"] or row["kind"],
            contact_id=row["contact_id"],
            recipient=str(payload.get("url") or payload.get("owner") or row["contact_id"]),
            idempotency_key=row["idempotency_key"],
            message_ref=message_ref(row, "tidings.localhost"),
            category=row["category"],
            data=payload | {"contact": _public_contact(contact)},
        )

    def _message(
        self,
        row: dict[str, Any],
        now: datetime,
        contacts: dict[int, dict[str, Any]],
        consents: dict[tuple[int, str], dict[str, Any]],
        tags: dict[int, list[str]],
        suppressed: set[tuple[str, str]],
        templates: dict[tuple[str, str], TemplateSource | None],
        reads: DeliveryReads,
    ) -> Outcome | tuple[OutgoingMessage, dict[str, Any]]:
        channel = row["channel"] or EMAIL
        payload = dict(row["payload"] or {})
        contact = contacts.get(row["contact_id"])
        if contact is None:
            return Outcome(row, OutboxStatus.FAILED, error="contact no longer exists", trace_action="message.failed")
        address = payload.get("to") or _address(channel, contact)
        if not address:
            return Outcome(
                row,
                OutboxStatus.FAILED,
                error=f"contact has no {ADDRESS_FIELD.get(channel, channel)} address",
                trace_action="message.failed",
            )
        if (channel, str(address).lower()) in suppressed:
            return Outcome(
                row,
                OutboxStatus.SUPPRESSED,
                error="address is on the suppression list",
                trace_action="message.suppressed",
            )
        key = payload.get("template") or row["template"]
        locale = payload.get("locale") or contact.get("locale") or ""
        cache_key = (str(key), str(locale))
        if cache_key not in templates:
            templates[cache_key] = reads.template(str(key), str(locale)) if key else None
        template = templates[cache_key]
        if template is None:
            return Outcome(
                row,
                OutboxStatus.FAILED,
                error=f"template {key!r} not found (locales tried: "
                f"{', '.join(repr(x) for x in locale_candidates(locale))})",
                trace_action="message.failed",
            )
        if channel == EMAIL and getattr(self, "_paused", None):  # a paused sending domain holds its email
            from tidings.channels.bounces import hold_if_paused

            sender = str(payload.get("from") or template.settings.get("from") or self.links.default_from)
            held = hold_if_paused(reads.feedback, row, sender, self._paused, now)
            if held is not None:
                return held
        if row["category"] != TRANSACTIONAL:
            consent = consents.get((row["contact_id"], CONSENT_CHANNEL.get(channel, channel)))
            why = _marketing_refusal(consent, template, now, channel)
            if why:
                return Outcome(row, OutboxStatus.SKIPPED, error=why, trace_action="message.skipped")
        return self._render(
            row, channel, contact, tags.get(row["contact_id"], []), template, payload, str(address), now
        )

    def _render(
        self,
        row: dict[str, Any],
        channel: str,
        contact: dict[str, Any],
        tags: list[str],
        template: TemplateSource,
        payload: dict[str, Any],
        address: str,
        now: datetime,
    ) -> tuple[OutgoingMessage, dict[str, Any]]:
        links, secret, public = self.links, self.links.secret, self.links.public_url
        if payload.get("subject") and channel == EMAIL:  # a campaign's subject (its A/B variant)
            template = replace(template, subject=str(payload["subject"]))
        settings = dict(template.settings)
        sender = str(payload.get("from") or settings.get("from") or links.default_from)
        ref = message_ref(row, _domain(sender))
        unsub = tracking.make_token(secret, tracking.UNSUBSCRIBE, row["id"], 0, now)
        prefs = tracking.make_token(secret, tracking.PREFERENCES, row["contact_id"], 0, now)
        message_ctx: dict[str, Any] = {
            "id": row["id"],
            "unsubscribe_url": f"{public}/u/{unsub}",
            "preferences_url": f"{public}/p/{prefs}",
        }
        if row.get("enrollment_id"):
            ss = tracking.make_token(
                secret, tracking.SELF_SERVICE, row["enrollment_id"], row["contact_id"], now
            )
            message_ctx["self_service_url"] = f"{public}/s/{ss}"
            # {{ message.signal_url('stop') }}: a signed link per signal (publish checks the names)
            eid = int(row["enrollment_id"])
            message_ctx["signal_url"] = partial(tracking.signal_link, secret, public, eid, now=now)
        context = {
            "contact": contact_context(contact, tags),
            "data": payload.get("data") or {},
            "message": message_ctx,
        }
        out = render(template, context)
        html, link_list = out.html, list[str]()
        headers: dict[str, str] = {}
        if channel == EMAIL and html is not None and settings.get("tracking", True):
            html, link_list = tracking.rewrite_links(
                html, secret=secret, outbox_id=row["id"], public_url=public, now=now
            )
        if channel == EMAIL and row["category"] != TRANSACTIONAL:
            mailto = f"mailto:unsubscribe@{_domain(sender)}?subject=unsubscribe-{unsub}"
            headers["List-Unsubscribe"] = f"<{public}/u/{unsub}>, <{mailto}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        reply_to = payload.get("reply_to") or settings.get("reply_to")
        rendered = {
            "subject": out.subject,
            "html": html,
            "text": out.text,
            "links": link_list,
            "message_ref": ref,
            "from": sender,
            "reply_to": reply_to,
            "headers": headers,
            "locale": template.locale,
            "template_channel": template.channel,
        }
        msg = OutgoingMessage(
            outbox_id=row["id"],
            channel=channel,
            contact_id=row["contact_id"],
            recipient=address,
            idempotency_key=row["idempotency_key"],
            message_ref=ref,
            category=row["category"],
            subject=out.subject,
            html=html,
            text=out.text,
            sender=sender,
            reply_to=reply_to,
            headers=headers,
            data=payload | {"contact": _public_contact(contact)},
            template=template.key,
        )
        return msg, rendered


def message_from_rendered(row: dict[str, Any]) -> OutgoingMessage | None:
    """Rebuild the message of a row that was rendered before (recovery after a crash)."""
    r = row.get("rendered")
    if not r or not r.get("message_ref"):
        return None
    return OutgoingMessage(
        outbox_id=row["id"],
        channel=row["channel"] or row["kind"],
        contact_id=row["contact_id"],
        recipient=row["recipient"] or "",
        idempotency_key=row["idempotency_key"],
        message_ref=r["message_ref"],
        category=row["category"],
        subject=r.get("subject"),
        html=r.get("html"),
        text=r.get("text"),
        sender=r.get("from"),
        reply_to=r.get("reply_to"),
        headers=r.get("headers") or {},
        template=row["template"],
    )


def _marketing_refusal(
    consent: dict[str, Any] | None, template: TemplateSource, now: datetime, channel: str
) -> str | None:
    if consent is None or consent["status"] != "granted":
        status = consent["status"] if consent else "none"
        return f"no marketing consent for {channel} (consent: {status})"
    if consent.get("paused_until") and consent["paused_until"] > now:
        return f"paused until {consent['paused_until'].isoformat()} (preference centre)"
    topic = template.settings.get("topic")
    if topic and (consent.get("topics") or {}).get(str(topic)) is False:
        return f"topic {topic!r} switched off (preference centre)"
    return None


def _address(channel: str, contact: dict[str, Any]) -> str | None:
    if channel == DIRECT_MAIL:  # a postal address in the contact's attributes, one line for the outbox row
        from tidings.channels.direct_mail import recipient_line

        return recipient_line(contact)
    field = ADDRESS_FIELD.get(channel)
    value = contact.get(field) if field else None
    return str(value) if value else None


def _public_contact(contact: dict[str, Any] | None) -> dict[str, Any]:
    if not contact:
        return {}
    return {k: v for k, v in contact.items() if k not in ("created_at", "updated_at")}


def _address_pairs(rows: Sequence[dict[str, Any]], contacts: dict[int, dict[str, Any]]) -> set[tuple[str, str]]:
    """The (channel, lower-case address) each row would go to: what the suppression list is asked."""
    pairs: set[tuple[str, str]] = set()
    for row in rows:
        channel = row["channel"] or EMAIL
        contact = contacts.get(row["contact_id"])
        address = (row["payload"] or {}).get("to") or (_address(channel, contact) if contact else None)
        if address:
            pairs.add((channel, str(address).lower()))
    return pairs
