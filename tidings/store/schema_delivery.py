"""Tables of delivery: suppressions, tasks, the local inbox, dead letters, templates, feedback and
sending domains (part of ``schema.py``, which re-exports every table)."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

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
    # set once, by a conditional update, when the escalation pass escalates the task (its SLA)
    sa.Column("escalated_at", UTCDateTime),
    sa.Column("escalated_to", sa.String(320)),
    sa.Index("ix_tasks_owner_status", "owner", "status"),
    sa.Index("ix_tasks_contact_id", "contact_id"),
    sa.Index("ix_tasks_status_due_at", "status", "due_at"),
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
