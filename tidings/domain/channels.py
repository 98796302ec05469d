"""Channel names: one definition, used by consent, templates, journeys, delivery and the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal


class Channel(StrEnum):
    """A way of reaching a contact; the value is what the database rows hold."""

    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    DIRECT_MAIL = "direct_mail"
    WEBHOOK = "webhook"
    TASK = "task"
    #: a CRM hand-off (HubSpot, Salesforce): application/crm, docs/crm.md
    CRM = "crm"


#: every channel the delivery loop can send on (outbox.channel, inbox.channel).
DELIVERY_CHANNELS: tuple[str, ...] = tuple(Channel)
#: channels a template (and a journey's send step) is written for.
TEMPLATE_CHANNELS: tuple[str, ...] = (Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.DIRECT_MAIL)
#: channels a contact gives or refuses consent for (consents.channel; "phone" covers voice calls).
CONSENT_CHANNELS: tuple[str, ...] = (Channel.EMAIL, Channel.SMS, Channel.DIRECT_MAIL, "phone")

if TYPE_CHECKING:
    TemplateChannelName = str
    ConsentChannelName = str
else:
    #: the same lists as ``Literal`` types, for request models that validate at the edge.
    TemplateChannelName = Literal[tuple(str(c) for c in TEMPLATE_CHANNELS)]
    ConsentChannelName = Literal[tuple(str(c) for c in CONSENT_CHANNELS)]


@dataclass(frozen=True)
class InboxItem:
    """What a local sink received: a row of the web inbox (``InboxRepository``, ports/delivery.py)."""

    channel: str
    recipient: str | None
    sender: str | None = None
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    message_ref: str | None = None
