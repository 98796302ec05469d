"""The hand-off document: what a CRM or a v2 webhook learns of a contact at hand-off time.

``handoff_document`` reads, in one read-only unit of work: the contact's fields and tags, the
score explanation of every scoring model (``scoring/scores.explain_contact``: score, stage,
sentence, parts, the latest history) and the contact's last N events, newest first. Its shape is
documented in docs/crm.md (*The v2 webhook*); ``version`` changes when a field is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.content import ContactReader
from tidings.application.ports.scoring import ScoringRepository
from tidings.application.scoring.scores import explain_contact
from tidings.domain.snapshot import PROFILE_FIELDS

VERSION = 2
MAX_EVENTS = 100


class HandoffReads(Protocol):
    @property
    def contacts(self) -> ContactReader: ...

    @property
    def scoring(self) -> ScoringRepository: ...


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def contact_fields(row: Mapping[str, Any], tags: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"]}
    out.update({f: _iso(row.get(f)) for f in PROFILE_FIELDS})
    out["attributes"] = dict(row.get("attributes") or {})
    out["tags"] = sorted(tags)
    out["created_at"] = _iso(row.get("created_at"))
    return out


def handoff_document(
    uow: HandoffReads, contact_id: int, now: datetime, *, events: int = 20, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The document (LookupError when the contact is gone)."""
    row = uow.contacts.get(contact_id)
    if row is None:
        raise LookupError(f"no contact {contact_id}")
    scores = explain_contact(uow.scoring, contact_id, now, history=5)
    latest = uow.contacts.events_page(contact_id, name=None, before=None, limit=max(0, min(events, MAX_EVENTS)))
    return {
        "version": VERSION,
        "type": "contact.handoff",
        "sent_at": now.isoformat(),
        "contact": contact_fields(row, uow.contacts.tags(contact_id)),
        "scores": scores,
        "events": [
            {
                "id": e["id"],
                "name": e["name"],
                "occurred_at": _iso(e["occurred_at"]),
                "properties": dict(e.get("properties") or {}),
                "source": e.get("source"),
            }
            for e in latest
        ],
        "context": dict(context or {}),
    }
