"""What the core knows about one contact when it decides: an immutable snapshot.

The rule evaluator (``domain.rules``) and the journey state machine (``domain.journeys``)
read only this. Adapters build it from storage (``store``) or from a scenario (simulator).
Message engagement is events too: ``message.delivered``, ``message.opened``,
``message.clicked``, ``message.bounced``, ``message.unsubscribed``, ``message.complained``
with properties ``message_id``, ``channel``, ``template``, ``journey``, ``step`` and
``machine`` (true when an open or click was made by a proxy or link scanner).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: the contact's profile: fields stored in their own column, written by senders, imports and
#: merges (everything else a sender gives is an attribute). The one list of contact fields.
PROFILE_FIELDS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "lifecycle_stage",
    "owner",
    "score",
)
#: names of the standard contact fields a rule or a template may read.
STANDARD_FIELDS = ("id", *PROFILE_FIELDS, "created_at")


@dataclass(frozen=True, slots=True)
class EventRecord:
    name: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    id: int
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    locale: str | None = None
    lifecycle_stage: str | None = None
    owner: str | None = None
    score: float = 0.0
    created_at: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    #: channel -> consent status (granted | denied | unsubscribed | pending)
    consents: Mapping[str, str] = field(default_factory=dict)
    #: the contact's events, oldest first.
    events: Sequence[EventRecord] = ()
    #: keys of the segments the contact is currently in.
    segments: frozenset[str] = frozenset()
    #: journey key -> enrolment status (active | waiting | ended:<reason>)
    journeys: Mapping[str, str] = field(default_factory=dict)

    def field_value(self, name: str) -> Any:
        if name not in STANDARD_FIELDS:
            raise KeyError(name)
        return getattr(self, name)
