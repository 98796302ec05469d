"""The data of the in-memory adapter (its unit of work is in ``uow.py``)."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tidings.domain.access import ApiKeyRecord, SessionRecord, ThrottleRecord, UserRecord


@dataclass
class MemoryState:
    """Every table the memory repositories keep, by primary key."""

    users: dict[int, UserRecord] = field(default_factory=dict)
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    api_keys: dict[int, tuple[ApiKeyRecord, str]] = field(default_factory=dict)  # record, key hash
    login_throttle: dict[str, ThrottleRecord] = field(default_factory=dict)
    templates: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    contact_tags: dict[int, list[str]] = field(default_factory=dict)
    #: (kind, value) -> alias row (anonymous_id, merged_id, user_id)
    contact_aliases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    consents: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    #: (channel, address) -> suppression row
    suppressions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: what the local sinks received, by id
    inbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: bounces and complaints by id; sending domains (their status, rates, pauses) by domain
    feedback: dict[int, dict[str, Any]] = field(default_factory=dict)
    sending_domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    queued_contacts: set[int] = field(default_factory=set)
    #: contact id -> ``queued_at``, ``lease_owner``, ``lease_until`` of a queued contact (the
    #: enrolment repository's claims; a queued contact without an entry is unleased)
    queue_leases: dict[int, dict[str, Any]] = field(default_factory=dict)
    journeys: dict[int, dict[str, Any]] = field(default_factory=dict)
    journey_versions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[int, dict[str, Any]] = field(default_factory=dict)
    timers: dict[int, dict[str, Any]] = field(default_factory=dict)
    traces: list[dict[str, Any]] = field(default_factory=list)
    #: segment key -> rule (the segments capability writes segments; tests seed them here)
    segment_rules: dict[str, Any] = field(default_factory=dict)
    #: vendor sources by id, and their watched checkouts by (source id, checkout id)
    sources: dict[int, Any] = field(default_factory=dict)
    source_checkouts: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    campaigns: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (campaign id, contact id) -> recipient row
    campaign_recipients: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: segment key -> member contact ids (the segments capability keeps memberships; tests seed them)
    segment_members: dict[str, list[int]] = field(default_factory=dict)
    #: the segments twin (memory/segments.py): segment key -> id and -> the rest of its row,
    #: membership periods (id, segment_id, contact_id, entered_at, exited_at)
    segment_ids: dict[str, int] = field(default_factory=dict)
    segment_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    segment_periods: list[dict[str, Any]] = field(default_factory=list)
    #: (message id, kind) first opens / clicks (the analytics capability writes them; tests seed them)
    analytics_firsts: set[tuple[int, str]] = field(default_factory=set)
    #: scoring: models by key, (model id, version) -> (document, published), scores by
    #: (contact id, model id), history rows
    scoring_models: dict[str, Any] = field(default_factory=dict)
    scoring_versions: dict[tuple[int, int], tuple[str, Any]] = field(default_factory=dict)
    contact_scores: dict[tuple[int, int], Any] = field(default_factory=dict)
    score_history: list[Any] = field(default_factory=list)
    #: (model id, day, from stage or "", to stage, direction) -> contacts moved
    stage_moves: dict[tuple[Any, ...], int] = field(default_factory=dict)
    #: forms by key, their submissions by id
    forms: dict[str, Any] = field(default_factory=dict)
    form_submissions: dict[int, Any] = field(default_factory=dict)
    #: the content plan (a ``PlanRecord`` or None), its cells by coordinates, template reviews
    content_plan: Any = None
    content_plan_cells: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    template_reviews: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    #: the last id given per table (ids are never reused, as with AUTOINCREMENT)
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]


def blank_row(table: sa.Table) -> dict[str, Any]:
    """Every column of ``table`` (its SQL twin), set to its server default or None."""
    row: dict[str, Any] = {}
    for column in table.columns:
        default = column.server_default
        text = str(default.arg) if default is not None and hasattr(default, "arg") else None
        if text is None or text == "CURRENT_TIMESTAMP":
            row[column.name] = None
        elif text in ("false", "true"):
            row[column.name] = text == "true"
        else:
            row[column.name] = int(text) if text.isdigit() else text
    return row


class MemoryStore:
    """The data of one in-memory "database"."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = threading.RLock()

    def add_contact(self, contact: dict[str, Any], tags: list[str] | None = None) -> int:
        """Seed a contact (tests): the contacts capability writes them elsewhere."""
        from tidings.store import schema

        with self.lock:
            cid = int(contact.get("id") or self.state.next_id("contacts"))
            self.state.contacts[cid] = blank_row(schema.contacts) | copy.deepcopy(contact) | {"id": cid}
            self.state.contact_tags[cid] = list(tags or [])
            return cid

    def add_event(self, row: dict[str, Any]) -> int:
        """Seed an event (tests): ingest writes them elsewhere."""
        from tidings.store import schema

        with self.lock:
            eid = self.state.next_id("events")
            self.state.events.append(blank_row(schema.events) | copy.deepcopy(row) | {"id": eid})
            return eid

    def add_trace(self, row: dict[str, Any]) -> int:
        """Seed a trace row (tests): the engine writes them elsewhere."""
        from tidings.store import schema

        with self.lock:
            tid = self.state.next_id("traces")
            self.state.traces.append(blank_row(schema.traces) | copy.deepcopy(row) | {"id": tid})
            return tid

    def add_outbox(self, row: dict[str, Any]) -> int:
        """Seed an outbox row (tests)."""
        from tidings.store import schema

        with self.lock:
            oid = self.state.next_id("outbox")
            self.state.outbox[oid] = blank_row(schema.outbox) | copy.deepcopy(row) | {"id": oid}
            return oid

    def add_enrollment(self, row: dict[str, Any]) -> int:
        """Seed an enrolment (tests): the engine writes them elsewhere."""
        from tidings.store import schema

        with self.lock:
            eid = self.state.next_id("enrollments")
            self.state.enrollments[eid] = blank_row(schema.enrollments) | copy.deepcopy(row) | {"id": eid}
            return eid

    def add_timer(self, row: dict[str, Any]) -> int:
        """Seed a timer (tests)."""
        from tidings.store import schema

        with self.lock:
            tid = self.state.next_id("timers")
            self.state.timers[tid] = blank_row(schema.timers) | copy.deepcopy(row) | {"id": tid}
            return tid
