"""Channel names: one definition, used by consent, templates, journeys, delivery and the inbox."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Literal


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
