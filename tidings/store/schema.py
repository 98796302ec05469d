"""The database schema: one place, SQLAlchemy Core tables.

Rules we hold to:
- every per-contact table carries ``contact_id`` (and its hot indexes lead with it or with
  the query shape the rule compiler needs), so it can be distributed by ``contact_id``;
- custom data is JSON, never a column per field;
- timestamps are UTC (``UTCDateTime``);
- the Alembic migrations in ``store/migrations`` are checked against this module by a test.
"""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store import schema_campaigns
from tidings.store.schema_base import metadata as metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

now_default = sa.text("CURRENT_TIMESTAMP")

# --------------------------------------------------------------------------- system

app_state = sa.Table(
    "app_state",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, server_default=now_default),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    #: the first characters of the key, shown in lists so a user can tell keys apart.
    sa.Column("prefix", sa.String(16), nullable=False, index=True),
    #: sha256 of the whole key (keys are 256-bit random; a slow hash adds nothing).
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", JSONDoc, nullable=False),
    #: a browser key's allowed origins (``https://shop.example``); NULL for server-side keys.
    sa.Column("origins", JSONDoc),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # admin | marketer | viewer
    #: the sales team this user belongs to (round-robin task assignment), if any.
    sa.Column("team", sa.String(100)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("password_changed_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime),
    #: the web UI's language and time zone (None: the browser's Accept-Language, UTC).
    sa.Column("locale", sa.String(20)),
    sa.Column("timezone", sa.String(64)),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

#: failed web logins counted per key (``email:<sha256>`` or ``addr:<client address>``) within a
#: window; see services/login_throttle. Durable, so every API process sees the same counts.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("window_started_at", UTCDateTime, nullable=False),
    sa.Column("last_failure_at", UTCDateTime, nullable=False),
    sa.Column("blocked_until", UTCDateTime),
)

# --------------------------------------------------------------------------- contacts

# Full-text search over contacts lives beside this table, outside the metadata (migration 0008,
# store/contact_search_sql.py): an FTS5 trigram table + triggers on SQLite, a pg_trgm GIN index
# on PostgreSQL.

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("external_id", sa.String(200), unique=True),
    sa.Column("email", sa.String(320), unique=True),
    sa.Column("phone", sa.String(32), unique=True),
    sa.Column("first_name", sa.String(200)),
    sa.Column("last_name", sa.String(200)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("locale", sa.String(35)),
    sa.Column("attributes", JSONDoc, nullable=False),
    sa.Column("lifecycle_stage", sa.String(64)),
    #: the sales rep / account executive who handles this contact personally.
    sa.Column("owner", sa.String(320)),
    sa.Column("score", sa.Float, nullable=False, server_default="0"),
    #: true while we only know the contact by an anonymous id.
    sa.Column("anonymous", sa.Boolean, nullable=False, server_default=sa.text("false")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_contacts_lifecycle_stage_id", "lifecycle_stage", "id"),
    sa.Index("ix_contacts_owner_id", "owner", "id"),
    sa.Index("ix_contacts_score_id", "score", "id"),
    sqlite_autoincrement=True,  # a deleted row's id is never given again (migration 0007)
)

#: other identifiers that resolve to a contact: anonymous ids, ids of merged contacts.
contact_aliases = sa.Table(
    "contact_aliases",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),  # anonymous_id | merged_id | user_id
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Column("contact_id", BigId, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

contact_tags = sa.Table(
    "contact_tags",
    metadata,
    sa.Column("contact_id", BigId, primary_key=True),
    sa.Column("tag", sa.String(100), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_contact_tags_tag_contact_id", "tag", "contact_id"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("contact_id", BigId, primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),  # email | sms | direct_mail | phone
    sa.Column("status", sa.String(20), nullable=False),  # granted | denied | unsubscribed | pending
    sa.Column("source", sa.String(100)),  # form | import | api | unsubscribe_link | sms_keyword ...
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    #: proof: form id, text shown, IP, user agent...
    sa.Column("proof", JSONDoc, nullable=False),
    #: per-topic preferences and "pause until" from the preference centre.
    sa.Column("topics", JSONDoc, nullable=False),
    sa.Column("paused_until", UTCDateTime),
    sa.Index("ix_consents_channel_status_contact_id", "channel", "status", "contact_id"),
)

# --------------------------------------------------------------------------- events

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("properties", JSONDoc, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    #: the sender's message id; ingestion is idempotent on it.
    sa.Column("message_id", sa.String(200), unique=True),
    sa.Column("source", sa.String(50), nullable=False, server_default="api"),
    #: numeric value of the event (revenue, NPS score...) when it has one, for fast sums.
    sa.Column("value", sa.Float),
    #: set when the worker has processed the event (segments, journeys).
    sa.Column("processed_at", UTCDateTime),
    sa.Index("ix_events_contact_id_name_occurred_at", "contact_id", "name", "occurred_at"),
    #: the rule compiler's index (``INDEXED BY`` on SQLite): event conditions seek by name and time and
    #: read contact_id and value from the index alone (counts and sums never touch the table).
    sa.Index("ix_events_name_occurred_at_contact_id_value", "name", "occurred_at", "contact_id", "value"),
    sa.Index(
        "ix_events_unprocessed",
        "id",
        sqlite_where=sa.text("processed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL"),
    ),
)

#: contacts with pending work (new events, changes) for the worker: claimed with SKIP LOCKED.
contact_queue = sa.Table(
    "contact_queue",
    metadata,
    sa.Column("contact_id", BigId, primary_key=True),
    sa.Column("queued_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
    sa.Index("ix_contact_queue_queued_at", "queued_at"),
)

# --------------------------------------------------------------------------- segments

segments = sa.Table(
    "segments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("rule", JSONDoc, nullable=False),
    sa.Column("rule_text", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("evaluated_at", UTCDateTime),
    #: for rules that slide with time alone: when the scheduled refresher re-evaluates next.
    sa.Column("next_refresh_at", UTCDateTime),
    sa.Index("ix_segments_next_refresh_at", "next_refresh_at"),
    sqlite_autoincrement=True,  # a deleted row's id is never given again (migration 0007)
)

segment_memberships = sa.Table(
    "segment_memberships",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("segment_id", BigId, nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.Column("exited_at", UTCDateTime),
    sa.Index("ix_segment_memberships_contact_id_segment_id", "contact_id", "segment_id"),
    sa.Index("ix_segment_memberships_segment_id_exited_at", "segment_id", "exited_at", "contact_id"),
    #: at most one open membership per (segment, contact): concurrent refreshes record a change once.
    sa.Index(
        "uq_segment_memberships_open",
        "segment_id",
        "contact_id",
        unique=True,
        sqlite_where=sa.text("exited_at IS NULL"),
        postgresql_where=sa.text("exited_at IS NULL"),
    ),
)

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

# --------------------------------------------------------------------------- channels

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(40), nullable=False),  # hard_bounce | complaint | soft_bounces | manual
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    sa.Column("owner", sa.String(320)),
    sa.Column("team", sa.String(100)),
    sa.Column("status", sa.String(20), nullable=False),  # open | done | cancelled
    sa.Column("due_at", UTCDateTime),
    sa.Column("outbox_id", BigId),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.Index("ix_tasks_owner_status", "owner", "status"),
    sa.Index("ix_tasks_contact_id", "contact_id"),
)

#: what the local sinks (SMTP catcher, SMS/voice/mail/webhook sinks) received: the web inbox.
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("sender", sa.String(320)),
    sa.Column("recipient", sa.String(320)),
    sa.Column("subject", sa.Text),
    sa.Column("body_text", sa.Text),
    sa.Column("body_html", sa.Text),
    sa.Column("headers", JSONDoc, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("message_ref", sa.String(200), index=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

#: outgoing webhooks that gave up after their retries: a list an operator can retry.
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", BigId, nullable=False, unique=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("retried_at", UTCDateTime),
    #: set aside for good by an operator (the outbox row stays ``dead``).
    sa.Column("discarded_at", UTCDateTime),
)

#: message templates referenced by journeys (``send`` steps name them by key).
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("locale", sa.String(35), nullable=False, server_default=""),  # "" = default variant
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("subject", sa.Text),
    #: body source; ``format`` says how to read it: html | mjml | text | markdown
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("format", sa.String(20), nullable=False, server_default="html"),
    sa.Column("text_body", sa.Text),
    #: channel-specific settings: from, reply_to, category, topic, sms sender...
    sa.Column("settings", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("key", "locale"),
    sqlite_autoincrement=True,  # a deleted row's id is never given again (migration 0007)
)

#: every bounce and complaint we were told about (SES/SNS, signed webhook, DSN): soft-bounce
#: thresholds and the rolling bounce/complaint rates of each sending domain read it.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # hard_bounce | soft_bounce | complaint
    sa.Column("sending_domain", sa.String(255)),
    sa.Column("contact_id", BigId),
    sa.Column("outbox_id", BigId),
    sa.Column("source", sa.String(20), nullable=False),  # ses | webhook | dsn
    #: the notification's own id (SNS MessageId, webhook id, DSN Message-ID) + address: replays are no-ops.
    sa.Column("ref", sa.String(400), unique=True),
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index("ix_feedback_address_kind_received_at", "address", "kind", "received_at"),
    sa.Index("ix_feedback_sending_domain_received_at", "sending_domain", "received_at"),
)

#: sending domains paused automatically when their bounce/complaint rates pass the limits.
sending_domains = sa.Table(
    "sending_domains",
    metadata,
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),  # active | paused
    sa.Column("reason", sa.Text),
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("paused_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
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

# --------------------------------------------------------------------------- analytics

#: engagement rollups, one row per (day, journey, version, step, template, channel, campaign); 0 / "" when
#: a dimension does not apply. Fed by the worker's hook (``application/analytics/rollups.py``).
analytics_daily = sa.Table(
    "analytics_daily",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("day", sa.String(10), nullable=False),  # YYYY-MM-DD, UTC
    sa.Column("journey_id", BigId, nullable=False, server_default="0"),
    sa.Column("journey_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("step", sa.String(100), nullable=False, server_default=""),
    sa.Column("template", sa.String(200), nullable=False, server_default=""),
    sa.Column("channel", sa.String(30), nullable=False, server_default=""),
    sa.Column("campaign", sa.String(100), nullable=False, server_default=""),
    *(
        sa.Column(m, sa.Float if m == "revenue" else sa.BigInteger, nullable=False, server_default="0")
        for m in (
            "sent", "delivered", "bounced_hard", "bounced_soft", "opened_human", "opened_human_unique",
            "opened_machine", "opened_machine_unique", "clicked", "clicked_unique", "clicked_machine",
            "unsubscribed", "complained", "converted", "revenue",
        )
    ),
    sa.UniqueConstraint("day", "journey_id", "journey_version", "step", "template", "channel", "campaign"),
    sa.Index("ix_analytics_daily_journey_id_day", "journey_id", "day"),
    sa.Index("ix_analytics_daily_template_day", "template", "day"),
    sa.Index("ix_analytics_daily_channel_day", "channel", "day"),
    sa.Index("ix_analytics_daily_campaign_day", "campaign", "day"),
)

#: step-to-step moves per day (the funnel per edge of a journey graph): ``src`` is a step id or
#: "" (entry), ``dst`` a step id or "" (the journey's end). Fed by the journey batch (``moves``).
analytics_edges = sa.Table(
    "analytics_edges",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("day", sa.String(10), nullable=False),  # YYYY-MM-DD, UTC
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("journey_version", sa.Integer, nullable=False),
    sa.Column("src", sa.String(100), nullable=False),
    sa.Column("dst", sa.String(100), nullable=False),
    sa.Column("moved", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("day", "journey_id", "journey_version", "src", "dst"),
    sa.Index("ix_analytics_edges_journey_id_day", "journey_id", "day"),
)

#: which messages already counted a first open / click (unique counts): one row per (message, kind).
analytics_firsts = sa.Table(
    "analytics_firsts",
    metadata,
    sa.Column("message_id", BigId, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.PrimaryKeyConstraint("message_id", "kind"),
)

# --------------------------------------------------------------------------- measurement

#: decisions taken on live experiments (split steps with ``experiment:``): the winner rolled out
#: at the review point. The split step sends everyone to ``winner`` once a row exists.
experiment_decisions = sa.Table(
    "experiment_decisions",
    metadata,
    sa.Column("key", sa.String(201), primary_key=True),  # <journey key>.<step id>
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("step_id", sa.String(100), nullable=False),
    sa.Column("winner", sa.String(200), nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("detail", JSONDoc, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", sa.String(320)),  # None: the automatic rollout
    sa.Index("ix_experiment_decisions_journey_id", "journey_id"),
)

#: marketing goals with 3/12/24-month targets (documents, like journeys).
marketing_goals = sa.Table(
    "marketing_goals",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("document", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: the economics inputs of a journey (hours saved per enrolment, rates, unit costs...).
journey_economics = sa.Table(
    "journey_economics",
    metadata,
    sa.Column("journey_key", sa.String(100), primary_key=True),
    sa.Column("inputs", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- scoring

#: lead-scoring models (documents, like journeys); ``version`` grows with every published change.
scoring_models = sa.Table(
    "scoring_models",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)

#: every published version of a scoring model (the document as it was).
scoring_model_versions = sa.Table(
    "scoring_model_versions",
    metadata,
    sa.Column("model_id", BigId, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
)

#: a contact's score in one model: the number, its stage and the state the arithmetic keeps
#: (``tidings/domain/scoring/score.py``); ``profile`` is the profile points at the last update.
contact_scores = sa.Table(
    "contact_scores",
    metadata,
    sa.Column("contact_id", BigId, primary_key=True),
    sa.Column("model_id", BigId, primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("profile", sa.Float, nullable=False),
    sa.Column("stage", sa.String(64)),
    sa.Column("state", JSONDoc, nullable=False),
    #: behaviour points as one number at one time (``domain/scoring/score.behaviour_anchor``)
    sa.Column("behaviour", sa.Float, nullable=False),
    sa.Column("behaviour_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_contact_scores_model_id_score", "model_id", "score"),
)

#: how a contact's score moved: one row per scored event batch, stage change or decayed stage.
score_history = sa.Table(
    "score_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("model_id", BigId, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("delta", sa.Float, nullable=False),
    sa.Column("stage", sa.String(64)),
    sa.Column("reason", JSONDoc, nullable=False),
    sa.Index("ix_score_history_contact_id_model_id_at", "contact_id", "model_id", "at"),
    sqlite_autoincrement=True,
)

# --------------------------------------------------------------------------- vendor sources (their own module)

from tidings.store.schema_sources import source_checkouts, sources  # noqa: E402, F401

# --------------------------------------------------------------------------- campaigns
# (defined in their own module, on this ``metadata``)
campaigns, campaign_recipients = schema_campaigns.define(metadata)
