"""The demo history written to the tables the real paths write (the ``DemoHistoryStore`` port).

Contacts with email consent, their events already processed (``processed_at`` set, nothing in
``contact_queue``: the worker never sees the past), the journeys' messages in final states with
their ``message.*`` events, enrolments ended or waiting with their future timers, and the
conversions credited by the real attribution rule (``attribution.credit``). One call, one
transaction; the ``demo_history`` row in ``app_state`` says it was done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.changes import message_event_properties
from tidings.domain.demo.history import DemoPlan
from tidings.store import schema
from tidings.store.attribution import credit

MARKER = "demo_history"
PROOF = {"form": "demo-signup", "text": "Yes, send me news and offers by email.", "ip": "203.0.113.10"}


def _ids(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(r[0]) for r in conn.execute(stmt, rows)]


class SqlDemoHistory:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def seeded(self) -> bool:
        a = schema.app_state
        return self.conn.execute(sa.select(a.c.key).where(a.c.key == MARKER)).first() is not None

    def published_journeys(self, keys: Sequence[str]) -> dict[str, tuple[int, int, str]]:
        j, v = schema.journeys, schema.journey_versions
        q = (
            sa.select(j.c.key, j.c.id, j.c.current_version, v.c.source)
            .select_from(j.join(v, (v.c.journey_id == j.c.id) & (v.c.version == j.c.current_version)))
            .where(j.c.key.in_(list(keys)), j.c.status == "active")
        )
        return {str(r.key): (int(r.id), int(r.current_version), str(r.source)) for r in self.conn.execute(q)}

    def write(self, plan: DemoPlan, journeys: Mapping[str, tuple[int, int]], now: datetime) -> list[dict[str, Any]]:
        conn = self.conn
        cids = _ids(
            conn,
            schema.contacts,
            [
                {
                    "email": c.email,
                    "first_name": c.first_name,
                    "last_name": c.last_name,
                    "timezone": c.timezone,
                    "locale": c.locale,
                    "attributes": {"source": "demo"},
                    "lifecycle_stage": c.stage,
                    "created_at": c.signed_up,
                    "updated_at": c.unsubscribed_at or c.signed_up,
                }
                for c in plan.contacts
            ],
        )
        conn.execute(
            sa.insert(schema.consents),
            [
                {
                    "contact_id": cids[c.ref],
                    "channel": "email",
                    "status": "unsubscribed" if c.unsubscribed_at else "granted",
                    "source": "unsubscribe_link" if c.unsubscribed_at else "form",
                    "recorded_at": c.unsubscribed_at or c.signed_up,
                    "proof": PROOF,
                    "topics": {},
                }
                for c in plan.contacts
            ],
        )
        conn.execute(
            sa.insert(schema.contact_tags),
            [{"contact_id": cids[c.ref], "tag": "newsletter", "created_at": c.signed_up} for c in plan.contacts],
        )
        enrols = plan.enrollments
        eids = _ids(
            conn,
            schema.enrollments,
            [
                {
                    "contact_id": cids[e.contact],
                    "journey_id": journeys[e.journey][0],
                    "version": journeys[e.journey][1],
                    "status": e.state.status,
                    "end_reason": e.state.end_reason,
                    "step_id": e.state.step_id,
                    "state": e.state.to_dict(),
                    "entered_at": e.entered_at,
                    "updated_at": e.updated_at,
                    "ended_at": e.updated_at if e.state.end_reason else None,
                }
                for e in enrols
            ],
        )
        enrol_id = {e.ref: i for e, i in zip(enrols, eids, strict=True)}
        timers = [
            {
                "contact_id": cids[e.contact],
                "enrollment_id": enrol_id[e.ref],
                "kind": t.kind,
                "due_at": t.due_at,
                "payload": dict(t.payload),
            }
            for e in enrols
            for t in e.timers
        ]
        if timers:
            conn.execute(sa.insert(schema.timers), timers)
        msgs: list[dict[str, Any]] = [
            {
                "contact_id": cids[m.contact],
                "idempotency_key": m.key,
                "kind": "message",
                "channel": m.channel,
                "category": m.category,
                "template": m.template,
                "journey_id": journeys[m.journey][0],
                "journey_version": journeys[m.journey][1],
                "enrollment_id": enrol_id[m.enrollment],
                "step_id": m.step,
                "payload": {},
                "status": m.status,
                "attempts": 1,
                "next_attempt_at": m.at,
                "recipient": plan.contacts[m.contact].email,
                "created_at": m.at,
                "sent_at": m.at,
                "error": "550 mailbox unavailable (demo)" if m.status == "failed" else None,
            }
            for m in plan.messages
        ]
        mids = _ids(conn, schema.outbox, msgs)
        self._traces(plan, cids, enrol_id, journeys, dict(zip((m["idempotency_key"] for m in msgs), mids, strict=True)))
        message_props = {
            row["idempotency_key"]: message_event_properties({**row, "id": i})
            for row, i in zip(msgs, mids, strict=True)
        }
        rows: list[dict[str, Any]] = []
        converted: list[dict[str, Any]] = []
        conversions: list[tuple[int, datetime, dict[str, Any]]] = []
        for e in sorted(plan.events, key=lambda e: e.at):
            props = dict(e.properties)
            if e.message is not None:
                props.update(message_props[e.message])
            if e.enrollment is not None:
                props["enrollment"] = enrol_id[e.enrollment]
            if e.name == "journey.converted":
                # credited like the engine does it: the last human click before it (written above)
                conversions.append((cids[e.contact], e.at, props))
            row: dict[str, Any] = {
                "contact_id": cids[e.contact],
                "name": e.name,
                "properties": props,
                "occurred_at": e.at,
                "received_at": e.at,
                "message_id": e.key,
                "source": "demo",
                "value": e.value,
                "processed_at": e.at,
            }
            (converted if e.name == "journey.converted" else rows).append(row)
        _insert_with_receipts(conn, rows)
        for contact_id, at, props in conversions:
            props["attributed_to"] = credit(conn, contact_id, at)
        _insert_with_receipts(conn, converted)
        conn.execute(
            sa.insert(schema.app_state),
            [{"key": MARKER, "value": {"contacts": len(cids), "at": now.isoformat()}, "updated_at": now}],
        )
        return rows + converted

    def _traces(
        self,
        plan: DemoPlan,
        cids: Sequence[int],
        enrol_id: Mapping[str, int],
        journeys: Mapping[str, tuple[int, int]],
        outbox_ids: Mapping[str, int],
    ) -> None:
        """The enrolments' explanations, each send's line linked both ways with its message."""
        rows = [
            {
                "contact_id": cids[e.contact],
                "enrollment_id": enrol_id[e.ref],
                "journey_id": journeys[e.journey][0],
                "journey_version": journeys[e.journey][1],
                "step_id": t.step_id,
                "stimulus": t.stimulus,
                "action": t.action,
                "detail": dict(t.detail),
                "outbox_id": outbox_ids.get(t.message) if t.message else None,
                "at": t.at,
            }
            for e in plan.enrollments
            for t in e.traces
        ]
        tids = _ids(self.conn, schema.traces, rows)
        o = schema.outbox
        links = [{"_id": r["outbox_id"], "_trace": tid} for r, tid in zip(rows, tids, strict=True) if r["outbox_id"]]
        if links:
            self.conn.execute(
                sa.update(o).where(o.c.id == sa.bindparam("_id")).values(trace_id=sa.bindparam("_trace")), links
            )

    def settle(self, contact_ids: Sequence[int], live: Sequence[str]) -> None:
        """Record the unprocessed events of these contacts as processed already, except those whose
        message ids are ``live``: the worker runs journeys on the live ones only (the past of the
        showcase contacts, and the changes their creation recorded, enter nothing)."""
        if not contact_ids:
            return
        e = schema.events
        keep = sa.or_(e.c.message_id.is_(None), e.c.message_id.not_in(list(live))) if live else sa.true()
        self.conn.execute(
            sa.update(e)
            .where(e.c.contact_id.in_(list(contact_ids)), e.c.processed_at.is_(None), keep)
            .values(processed_at=e.c.occurred_at)
        )


def _insert_with_receipts(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the showcase's (already processed) events and their ``event_receipts`` rows, so a
    later ingest of the same message id is recognised as seen."""
    if not rows:
        return
    e = schema.events
    ids = conn.execute(sa.insert(e).returning(e.c.id, sort_by_parameter_order=True), rows).scalars().all()
    receipts = [
        {"message_id": r["message_id"], "event_id": i, "received_at": r["received_at"]}
        for i, r in zip(ids, rows, strict=True)
        if r.get("message_id") is not None
    ]
    if receipts:
        conn.execute(sa.insert(schema.event_receipts), receipts)
