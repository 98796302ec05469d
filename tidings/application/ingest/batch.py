"""One transaction's worth of transitions: collect their writes, then flush them in bulk.

What a ``Transition`` becomes (the runtime contract in ``domain/journeys/model.py``): the
enrolment row, its timers, one trace row per trace entry, one outbox row per deliverable effect
(message / webhook / task, ``ON CONFLICT DO NOTHING`` on the idempotency key), and the
contact-side effects (attributes, tags, stage, score, owner, enrolment in another journey)
applied in the same transaction, with the matching change events so other journeys and
segments react. The caller commits once for the whole batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson
import sqlalchemy as sa

from tidings.application.ports.analytics import AnalyticsRepository
from tidings.application.ports.journeys import JourneyRuns
from tidings.application.ports.storage import StorageUnitOfWork
from tidings.domain.journeys.effects import (
    AssignOwner,
    CallCrm,
    CallWebhook,
    Conversion,
    CreateTask,
    EnrollOther,
    SendMessage,
    UpdateContact,
)
from tidings.domain.journeys.model import EnrollmentState, JourneyDoc, SentRecord, TraceEntry, Transition
from tidings.domain.snapshot import ContactSnapshot
from tidings.domain.statuses import EnrolmentStatus, TaskStatus
from tidings.store import enrollments as est
from tidings.store import schema
from tidings.store.fastpath import OUTBOX_COLS, TIMER_COLS, TRACE_COLS, Fast
from tidings.store.sql_uow import joined

log = logging.getLogger("tidings.engine")

OUTBOX_KINDS = {"message", "webhook", "crm", "task"}


@dataclass
class Live:
    """An enrolment being worked on in this batch."""

    id: int
    contact_id: int
    journey_id: int
    version: int
    state: EnrollmentState


@dataclass
class Batch:
    conn: sa.Connection
    now: datetime
    #: journey id -> status (active | paused | ...): new timers of a paused journey are held.
    journey_status: dict[int, str]
    #: called for an EnrollOther effect: (batch, journey key, contact snapshot, key, cause).
    enroll_other: Callable[[Batch, str, ContactSnapshot, str, dict[str, Any]], None] | None = None
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    cancel: set[int] = field(default_factory=set)
    timers: list[dict[str, Any]] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    #: trace index -> outbox row it explains
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: contact id -> sends emitted in this batch (frequency caps across enrolments)
    sends: dict[int, list[SentRecord]] = field(default_factory=dict)
    transitions: int = 0
    depth: int = 0
    #: journey id -> {split step id: winner}, loaded once per batch when a journey needs it.
    rollouts: dict[int, dict[str, str]] | None = None
    #: where the step-to-step moves go (``analytics_edges``); None: not counted (unit-level tests).
    analytics: AnalyticsRepository | None = None
    #: (journey id, version, from step, to step) -> moves in this batch
    edges: dict[tuple[int, int, str, str], int] = field(default_factory=dict)
    #: first entries with their control group (``journey_entrants``), written at flush
    entrants: list[dict[str, Any]] = field(default_factory=list)
    #: passes through split steps by chance (``experiment_members``), written at flush
    members: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def storage(self) -> StorageUnitOfWork:
        """The repositories on this batch's transaction (joined: the caller commits)."""
        return joined(self.conn)

    @property
    def runs(self) -> JourneyRuns:
        """Enrolments' timers and journey status (date triggers, pauses)."""
        return self.storage.journey_runs

    # ----------------------------------------------------------------- collecting

    def apply(self, live: Live, doc: JourneyDoc, tr: Transition, contact: ContactSnapshot) -> None:
        """Record one transition (state, timers, traces, effects)."""
        self.transitions += 1
        if not tr.changed:
            for entry in tr.trace:
                self._trace(live, tr.stimulus, entry)
            return
        st = tr.state
        live.state = st
        for src, dst in tr.moves:
            edge = (live.journey_id, live.version, src, dst)
            self.edges[edge] = self.edges.get(edge, 0) + 1
        self.updates[live.id] = {
            "_id": live.id,
            "status": st.status,
            "end_reason": st.end_reason,
            "step_id": st.step_id,
            "state": st.to_dict(),
            "updated_at": self.now,
            "ended_at": self.now if st.status == EnrolmentStatus.ENDED else None,
            "version": live.version,
        }
        if tr.cancel_timers:
            self.cancel.add(live.id)
            self.timers = [t for t in self.timers if t["enrollment_id"] != live.id]
        held = self.journey_status.get(live.journey_id) == "paused"
        for req in tr.timers:
            payload = dict(req.payload)
            due = req.due_at
            if held:
                payload[est.PARKED_KEY] = due.isoformat()
                due = est.PARKED_AT
            self.timers.append(
                {
                    "contact_id": live.contact_id,
                    "enrollment_id": live.id,
                    "kind": req.kind,
                    "due_at": due,
                    "payload": payload,
                }
            )
        for entry in tr.trace:
            index = self._trace(live, tr.stimulus, entry)
            if entry.effect_index is not None:
                self._effect(live, doc, tr.effects[entry.effect_index], contact, index)

    def trace_note(
        self,
        contact_id: int,
        journey_id: int | None,
        version: int | None,
        stimulus: str,
        action: str,
        detail: dict[str, Any],
        enrollment_id: int | None = None,
        step_id: str | None = None,
    ) -> None:
        """A trace row that is not part of a transition (a refused entry, a failure)."""
        self.traces.append(
            {
                "contact_id": contact_id,
                "enrollment_id": enrollment_id,
                "journey_id": journey_id,
                "journey_version": version,
                "step_id": step_id,
                "stimulus": stimulus,
                "action": action,
                "detail": _json_safe(detail),
                "at": self.now,
                "outbox_id": None,
            }
        )

    def entered(self, live: Live, held_out: bool) -> None:
        """A contact entered a journey, in (``held_out``) or out of its control group."""
        self.entrants.append(
            {
                "journey_id": live.journey_id,
                "contact_id": live.contact_id,
                "journey_version": live.version,
                "held_out": held_out,
                "entered_at": self.now,
            }
        )

    def _trace(self, live: Live, stimulus: str, entry: TraceEntry) -> int:
        if entry.action == "split" and not entry.detail.get("rollout") and entry.step_id:
            self.members.append(
                {
                    "journey_id": live.journey_id,
                    "step_id": entry.step_id,
                    "contact_id": live.contact_id,
                    "variant": str(entry.detail.get("variant")),
                    "entered_at": self.now,
                }
            )
        self.traces.append(
            {
                "contact_id": live.contact_id,
                "enrollment_id": live.id,
                "journey_id": live.journey_id,
                "journey_version": live.version,
                "step_id": entry.step_id,
                "stimulus": stimulus or "unknown",
                "action": entry.action,
                "detail": entry.detail,
                "at": self.now,
                "outbox_id": None,
            }
        )
        return len(self.traces) - 1

    def _effect(self, live: Live, doc: JourneyDoc, effect: Any, contact: ContactSnapshot, trace_index: int) -> None:
        kind = effect.kind
        if kind in OUTBOX_KINDS:
            row: dict[str, Any] = {
                "contact_id": live.contact_id,
                "idempotency_key": effect.idempotency_key,
                "kind": kind,
                "channel": None,
                "category": "transactional",
                "template": None,
                "journey_id": live.journey_id,
                "journey_version": live.version,
                "enrollment_id": live.id,
                "step_id": effect.step_id,
                "payload": effect.payload(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": self.now,
                "created_at": self.now,
                "recipient": None,
            }
            if isinstance(effect, SendMessage):
                row.update(
                    channel=effect.channel,
                    category=effect.category,
                    template=effect.template,
                    recipient=_recipient(contact, effect.channel),
                )
                self.sends.setdefault(live.contact_id, []).append(SentRecord(effect.channel, self.now, effect.category))
            elif isinstance(effect, CallWebhook):
                row.update(channel="webhook", recipient=effect.url)
            elif isinstance(effect, CallCrm):
                row.update(channel="crm", recipient=effect.system)
            elif isinstance(effect, CreateTask):
                row.update(channel="task", recipient=effect.owner)
            self.outbox[trace_index] = row
        elif isinstance(effect, UpdateContact):
            update_contact(
                self.conn,
                live.contact_id,
                effect,
                self.now,
                cause={"journey": doc.key, "step": effect.step_id, "enrollment": live.id},
            )
        elif isinstance(effect, AssignOwner):
            assign_owner(
                self.conn,
                live.contact_id,
                effect,
                self.now,
                cause={"journey": doc.key, "step": effect.step_id, "enrollment": live.id},
            )
        elif isinstance(effect, EnrollOther):
            if self.enroll_other is None or self.depth > 5:
                log.warning("enrolment in %s from %s not followed (depth %s)", effect.journey_key, doc.key, self.depth)
                return
            self.depth += 1
            try:
                self.enroll_other(
                    self,
                    effect.journey_key,
                    contact,
                    effect.key,
                    {"journey": doc.key, "step": effect.step_id, "enrollment": live.id},
                )
            finally:
                self.depth -= 1
        elif isinstance(effect, Conversion):
            _append_events(
                self.conn,
                [
                    {
                        "contact_id": live.contact_id,
                        "name": "journey.converted",
                        "properties": {
                            "journey": doc.key,
                            "step": effect.step_id,
                            "goal": effect.goal,
                            "enrollment": live.id,
                            "revenue": effect.revenue,
                            "attributed_to": self.storage.traces.credit(live.contact_id, self.now),
                        },
                        "message_id": f"conversion:{effect.idempotency_key}",
                        "value": effect.revenue,
                    }
                ],
                self.now,
            )

    # ----------------------------------------------------------------- writing

    def flush(self) -> None:
        """Write the batch: a handful of bulk statements (see ``store/fastpath.py``)."""
        conn = self.conn
        fast = Fast(conn)
        fast.delete_timers(self.fired, sorted(self.cancel))
        fast.insert("timers", TIMER_COLS, self.timers)
        fast.update_enrollments(list(self.updates.values()))
        ids = fast.allocate_many({"traces": len(self.traces), "outbox": len(self.outbox)})
        trace_ids = ids["traces"]
        for tid, trace in zip(trace_ids, self.traces, strict=True):
            trace["id"] = tid
        if self.outbox:
            rows = list(self.outbox.values())
            for oid, (index, row) in zip(ids["outbox"], self.outbox.items(), strict=True):
                row["id"] = oid
                row["trace_id"] = trace_ids[index]
                self.traces[index]["outbox_id"] = oid
            inserted = fast.insert("outbox", OUTBOX_COLS, rows, on_conflict="idempotency_key")
            if inserted != len(rows):  # some effects were already there (a redo): link their traces to them
                existing = fast.existing_outbox([r["idempotency_key"] for r in rows])
                for index, row in self.outbox.items():
                    self.traces[index]["outbox_id"] = existing.get(row["idempotency_key"], row["id"])
        fast.insert("traces", TRACE_COLS, self.traces)
        if self.edges and self.analytics is not None:
            day = self.now.date().isoformat()
            self.analytics.add_edges(
                [
                    {"day": day, "journey_id": j, "journey_version": v, "src": a, "dst": b, "moved": n}
                    for (j, v, a, b), n in sorted(self.edges.items())
                ]
            )
        if self.analytics is not None:
            self.analytics.add_entrants(self.entrants)
            self.analytics.add_members(self.members)
        self.edges, self.entrants, self.members = {}, [], []
        self.fired, self.cancel, self.timers, self.updates = [], set(), [], {}
        self.traces, self.outbox = [], {}


def _recipient(contact: ContactSnapshot, channel: str) -> str | None:
    if channel == "email":
        return contact.email
    if channel in ("sms", "voice", "phone"):
        return contact.phone
    return None


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _append_events(conn: sa.Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Append engine-caused events (idempotent on message_id) and queue their contacts."""
    if not rows:
        return
    full = [{"occurred_at": now, "received_at": now, "source": "journey", "value": None, "message_id": None, **r}
            for r in rows]
    full = [{**r, "properties": _json_safe(r["properties"])} for r in full]
    est.insert_events(conn, full)  # idempotent on message_id (event_receipts)
    est.enqueue(conn, {r["contact_id"] for r in rows}, now)


def update_contact(
    conn: sa.Connection, contact_id: int, eff: UpdateContact, now: datetime, cause: dict[str, Any]
) -> None:
    """Apply an UpdateContact effect and append contact.updated / tag.* events (chains work)."""
    c, t = schema.contacts, schema.contact_tags
    row = (
        conn.execute(sa.select(c.c.attributes, c.c.lifecycle_stage, c.c.score).where(c.c.id == contact_id))
        .mappings()
        .first()
    )
    if row is None:
        return
    attrs = dict(row["attributes"] or {})
    changed: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for k, v in eff.set_attributes.items():
        if attrs.get(k) != v:
            changed[f"attributes.{k}"] = {"from": attrs.get(k), "to": v}
            attrs[k] = v
    if changed:
        values["attributes"] = attrs
    if eff.stage is not None and eff.stage != row["lifecycle_stage"]:
        changed["lifecycle_stage"] = {"from": row["lifecycle_stage"], "to": eff.stage}
        values["lifecycle_stage"] = eff.stage
    if eff.score_delta:
        new = float(row["score"] or 0) + eff.score_delta
        changed["score"] = {"from": float(row["score"] or 0), "to": new}
        values["score"] = new
    events: list[dict[str, Any]] = []
    key = eff.idempotency_key
    if values:
        conn.execute(sa.update(c).where(c.c.id == contact_id).values(updated_at=now, **values))
        events.append(
            {
                "contact_id": contact_id,
                "name": "contact.updated",
                "properties": {"changed": changed, "by": cause},
                "message_id": f"update:{key}",
            }
        )
    have = set(conn.execute(sa.select(t.c.tag).where(t.c.contact_id == contact_id)).scalars())
    for tag in eff.add_tags:
        if tag not in have:
            conn.execute(sa.insert(t).values(contact_id=contact_id, tag=tag, created_at=now))
            have.add(tag)
            events.append(
                {
                    "contact_id": contact_id,
                    "name": "tag.added",
                    "properties": {"tag": tag, "by": cause},
                    "message_id": f"tag+:{tag}:{key}",
                }
            )
    for tag in eff.remove_tags:
        if tag in have:
            conn.execute(sa.delete(t).where(t.c.contact_id == contact_id, t.c.tag == tag))
            have.discard(tag)
            events.append(
                {
                    "contact_id": contact_id,
                    "name": "tag.removed",
                    "properties": {"tag": tag, "by": cause},
                    "message_id": f"tag-:{tag}:{key}",
                }
            )
    _append_events(conn, events, now)


def assign_owner(conn: sa.Connection, contact_id: int, eff: AssignOwner, now: datetime, cause: dict[str, Any]) -> None:
    """Give the contact an owner: the one named, or a rep of ``team`` chosen by ``strategy``.

    A team's reps are its active users (``users.team``), or the list configured with
    ``tidings tasks team`` when it has none (``services/tasks.team_reps``).
    - ``round_robin``: the rep after the one picked last time for this team, from a counter row
      locked in ``app_state`` (durable across restarts, shared by all workers; it rolls back with
      the batch, so a redone batch picks the same rep);
    - ``least_loaded`` (and ``fixed`` without an owner): the rep with the fewest open tasks plus
      owned contacts, ties to the earliest user.
    """
    from tidings.application.sales import tasks  # late: tasks imports the change-event helpers

    owner = eff.owner
    if owner is None and eff.team and eff.strategy == "round_robin":
        owner = tasks.next_in_team(joined(conn), eff.team, now, purpose="owner")
    elif owner is None and eff.team:
        owner = _least_loaded(conn, eff.team)
    if owner is None:
        return
    c = schema.contacts
    before = conn.execute(sa.select(c.c.owner).where(c.c.id == contact_id)).scalar_one_or_none()
    if before == owner:
        return
    conn.execute(sa.update(c).where(c.c.id == contact_id).values(owner=owner, updated_at=now))
    _append_events(
        conn,
        [
            {
                "contact_id": contact_id,
                "name": "contact.updated",
                "properties": {"changed": {"owner": {"from": before, "to": owner}}, "by": cause},
                "message_id": f"owner:{eff.idempotency_key}",
            }
        ],
        now,
    )


def _least_loaded(conn: sa.Connection, team: str) -> str | None:
    """The team's rep with the fewest open tasks plus owned contacts (ties: earliest user)."""
    u, tk = schema.users, schema.tasks
    members = list(
        conn.execute(
            sa.select(u.c.email).where(u.c.team == team, u.c.disabled_at.is_(None)).order_by(u.c.id)
        ).scalars()
    )
    if not members:  # no users in the team: the reps configured with `tidings tasks team`
        from tidings.application.sales import tasks

        members = tasks.team_reps(joined(conn), team)
    if not members:
        return None
    load: dict[Any, int] = dict(
        conn.execute(
            sa.select(tk.c.owner, sa.func.count())
            .where(tk.c.owner.in_(members), tk.c.status == TaskStatus.OPEN)
            .group_by(tk.c.owner)
        ).all()
    )
    owned: dict[Any, int] = dict(
        conn.execute(
            sa.select(schema.contacts.c.owner, sa.func.count())
            .where(schema.contacts.c.owner.in_(members))
            .group_by(schema.contacts.c.owner)
        ).all()
    )
    return min(members, key=lambda m: (load.get(m, 0) + owned.get(m, 0), members.index(m)))
