"""Tables of journeys and their runs: versions, enrolments, timers, the outbox, traces, and the
loop breaker's causes and alerts (part of ``schema.py``, which re-exports every table)."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

# --------------------------------------------------------------------------- journeys

journeys = sa.Table(
    "journeys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # draft | active | paused | archived
    sa.Column("current_version", sa.Integer),
    #: the latest saved, not yet published document (YAML text).
    sa.Column("draft_source", sa.Text),
    sa.Column("recipe", sa.String(100)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

journey_versions = sa.Table(
    "journey_versions",
    metadata,
    sa.Column("journey_id", BigId, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", JSONDoc, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", sa.String(320)),
)

enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("enroll_key", sa.String(200), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),  # active | waiting | ended
    sa.Column("end_reason", sa.String(40)),  # completed | converted | exited | suppressed | ...
    sa.Column("step_id", sa.String(100)),
    #: the state machine's state (visits, assignments, wait info...), owned by the engine.
    sa.Column("state", JSONDoc, nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Index("ix_enrollments_contact_id_journey_id", "contact_id", "journey_id", "enroll_key"),
    sa.Index("ix_enrollments_journey_id_status_step_id", "journey_id", "status", "step_id"),
)

#: durable timers: rows with a due time, claimed with FOR UPDATE SKIP LOCKED when due.
timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("enrollment_id", BigId),
    sa.Column("kind", sa.String(40), nullable=False),  # wait | timeout | segment_refresh | ...
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("payload", JSONDoc, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
    sa.Index("ix_timers_due_at", "due_at"),
    sa.Index("ix_timers_enrollment_id", "enrollment_id"),
)

#: effects of journey transitions waiting for delivery (messages, webhooks, tasks...).
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    #: derived from (enrolment, step, visit): a delivery is never repeated blindly.
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(30), nullable=False),  # message | webhook | task | ...
    sa.Column("channel", sa.String(30)),  # email | sms | voice | direct_mail | webhook | task
    sa.Column("category", sa.String(20), nullable=False, server_default="marketing"),
    sa.Column("template", sa.String(200)),
    sa.Column("journey_id", BigId),
    sa.Column("journey_version", sa.Integer),
    sa.Column("enrollment_id", BigId),
    sa.Column("step_id", sa.String(100)),
    sa.Column("trace_id", BigId),
    sa.Column("payload", JSONDoc, nullable=False),
    #: pending | sending | sent | delivered | failed | suppressed | skipped | dead | uncertain
    #: (uncertain: the sender died mid-send and the provider cannot confirm; see store/outbox.py)
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
    #: set (in one small write per group) right before the provider call of THIS message: only
    #: rows with it may have reached the provider when their sender died (store/outbox.py).
    sa.Column("handed_off_at", UTCDateTime),
    sa.Column("recipient", sa.String(320)),
    sa.Column("subject", sa.Text),
    #: what was actually sent (rendered), kept for the inbox, tracking and "why".
    sa.Column("rendered", JSONDoc),
    sa.Column("provider_message_id", sa.String(200)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_outbox_contact_id_channel_sent_at", "contact_id", "channel", "sent_at"),
    sa.Index("ix_outbox_enrollment_id", "enrollment_id"),
)

#: the explanation of every state change: "why did this contact get this?".
traces = sa.Table(
    "traces",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("enrollment_id", BigId),
    sa.Column("journey_id", BigId),
    sa.Column("journey_version", sa.Integer),
    sa.Column("step_id", sa.String(100)),
    sa.Column("stimulus", sa.String(40), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("outbox_id", BigId),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_traces_contact_id_at", "contact_id", "at"),
    sa.Index("ix_traces_enrollment_id", "enrollment_id"),
)

# --------------------------------------------------------------------------- control (loop breaker)

#: why an enrolment started, when another journey's effect (or a tag) caused it: the causal chain.
enrollment_causes = sa.Table(
    "enrollment_causes",
    metadata,
    sa.Column("enrollment_id", BigId, primary_key=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("journey_key", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # tag_added | tag_removed | field | event | enrol
    sa.Column("value", sa.String(400)),  # the tag, the fields, the event name, the enrolled journey
    sa.Column("parent_enrollment_id", BigId),
    #: [[journey key, enrolment id, at ISO], ...] root first, this enrolment last.
    sa.Column("chain", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_enrollment_causes_kind_value", "kind", "value"),
    sa.Index("ix_enrollment_causes_parent_enrollment_id", "parent_enrollment_id"),
    sa.Index("ix_enrollment_causes_contact_id", "contact_id"),
)

#: operator alerts (a loop stopped...): one open row per fingerprint, counted.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),  # loop_stopped
    sa.Column("severity", sa.String(20), nullable=False),  # warning | critical
    sa.Column("fingerprint", sa.String(400), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("contact_id", BigId),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("acknowledged_by", sa.String(320)),
    sa.Index("ix_alerts_fingerprint_acknowledged_at", "fingerprint", "acknowledged_at"),
)
