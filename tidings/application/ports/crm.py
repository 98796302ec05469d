"""The CRM port: what a hand-off asks of a CRM (HubSpot, Salesforce), whatever its REST API.

The application owns this interface (``application/crm/handoff.py`` delivers the ``crm`` outbox
rows through it); the adapters live in ``tidings/channels/crm_hubspot.py`` and
``crm_salesforce.py`` and are built by the composition root (``Container.crm_client``).

Calls are **synchronous** (the channel runs them in a thread). A client never returns half a
result: it returns the record it wrote or raises :class:`CrmError`, saying whether a retry can
help (429, 5xx, a network error: ``temporary``, with the server's Retry-After) or not (any other
4xx: the CRM's own message, for the dead letter an operator reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class CrmError(Exception):
    """A CRM call that failed; ``str(error)`` is the CRM's message (never a token)."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.status = status
        self.retry_after_s = retry_after_s
        self.code = code


@dataclass(frozen=True)
class CrmPerson:
    """The contact as the CRM gets it: identity, name, and the step's extra fields (CRM names)."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    #: extra fields in the CRM's own names (``leadsource``, ``LeadSource``...), sent as given
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CrmRecord:
    """A record the CRM holds: its object type (``contact``, ``lead``, ``task``, ``deal``...) and id."""

    system: str
    object_type: str
    id: str
    #: the upsert created it (True), updated it (False), or the CRM does not say (None)
    created: bool | None = None


@dataclass(frozen=True)
class CrmTask:
    title: str
    due_at: datetime
    body: str = ""
    #: low | medium | high
    priority: str | None = None


@dataclass(frozen=True)
class CrmDeal:
    name: str
    close_at: datetime
    amount: float | None = None
    stage: str | None = None
    pipeline: str | None = None


@dataclass(frozen=True)
class CrmOwnership:
    """What the CRM says of the person now: its owner (an email when the CRM has one) and stage,
    both raw (the CRM's own values; ``application/crm/handoff.py`` maps the stage)."""

    owner: str | None = None
    stage: str | None = None


class CrmClient(Protocol):
    #: "hubspot" | "salesforce": what a ``crm`` step's ``system`` names
    system: str

    def upsert_contact(self, person: CrmPerson) -> CrmRecord:
        """Create or update the person (HubSpot contact by email, Salesforce Lead by external id)."""
        ...

    def create_task(self, person: CrmRecord, task: CrmTask) -> CrmRecord:
        """A task for a sales rep, linked to the person."""
        ...

    def create_deal(self, person: CrmRecord, deal: CrmDeal) -> CrmRecord:
        """A deal (HubSpot deal, Salesforce Opportunity), linked to the person where the CRM can."""
        ...

    def ownership(self, person: CrmRecord) -> CrmOwnership:
        """Read back the person's owner and stage (for the write-back)."""
        ...

    def close(self) -> None: ...
