"""Ports of the campaigns capability: campaign rows, their frozen audience, their counts.

Campaign rows are dicts with the columns of the ``campaigns`` table; recipients are dicts with
``contact_id``, ``variant``, ``send_at``, ``outbox_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.content import ContactReader, TemplateRepository
from tidings.application.ports.delivery import OutboxRepository
from tidings.application.ports.uow import UnitOfWork


class CampaignRepository(Protocol):
    def add(self, values: Mapping[str, Any]) -> int:
        """A new campaign's id (``values``: the columns but ``id``); the key is unique."""
        ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def update(self, campaign_id: int, values: Mapping[str, Any]) -> None: ...

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first."""
        ...

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """Campaigns with work now: ``scheduled`` whose start is due, and every ``sending`` one."""
        ...

    def audience(self, segment: str) -> list[tuple[int, str | None]]:
        """(contact id, time zone) of the segment's current members, by contact id."""
        ...

    def audience_count(self, segment: str) -> int: ...

    def segment_exists(self, segment: str) -> bool: ...

    def freeze(self, campaign_id: int, recipients: Sequence[Mapping[str, Any]]) -> None:
        """Store the audience (``contact_id``, ``variant``, ``send_at``); a contact already
        stored for this campaign is left alone."""
        ...

    def recipients(self, campaign_id: int, *, waiting: bool = False) -> list[dict[str, Any]]:
        """Every recipient by contact id; ``waiting``: only those without a variant yet."""
        ...

    def unqueued(self, campaign_id: int, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Recipients with a variant and no outbox row yet, soonest slot first."""
        ...

    def assign(self, campaign_id: int, slots: Sequence[tuple[int, str, datetime]]) -> None:
        """Give waiting recipients (contact id, variant, slot)."""
        ...

    def outbox_ids(self, keys: Sequence[str]) -> dict[str, int]:
        """The outbox ids of these idempotency keys (those present)."""
        ...

    def mark_queued(self, campaign_id: int, queued: Sequence[tuple[int, int]]) -> None:
        """(contact id, outbox id) of the rows just enqueued."""
        ...

    def latest_slots(self, campaign_id: int, limit: int) -> list[datetime]:
        """The ``limit`` latest slots given out (the throttle's memory)."""
        ...

    def progress(self, campaign_id: int) -> dict[str, int]:
        """Counts: ``audience``, ``waiting`` (no outbox row yet), then one per outbox status."""
        ...

    def variant_counts(self, campaign_id: int, first_kind: str) -> dict[str, tuple[int, int]]:
        """Per variant: (messages sent, of those with a first ``first_kind``: open_human | click)."""
        ...

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        """Messages of these contacts since ``since`` (``contact_id``, ``channel``, ``category``,
        ``at``) for the send policy's caps."""
        ...

    def skip_pending(self, campaign_id: int, reason: str) -> int:
        """Outbox rows of the campaign still ``pending`` become ``skipped`` (a cancel)."""
        ...


class CampaignsUnitOfWork(UnitOfWork, Protocol):
    @property
    def campaigns(self) -> CampaignRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def contacts(self) -> ContactReader: ...
