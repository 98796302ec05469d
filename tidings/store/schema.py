"""The database schema: SQLAlchemy Core tables, every one importable from here.

This module holds the tables of the system, contacts, events and segments; the others live by
area in ``schema_journeys.py``, ``schema_delivery.py``, ``schema_analytics.py`` and
``schema_scoring.py``, ``schema_sources.py``, ``schema_retention.py``, ``schema_forms.py``, ``schema_plan.py`` and are
re-exported below, so ``schema.<table>`` and ``schema.metadata`` name them all.

Rules we hold to:
- every per-contact table carries ``contact_id`` (and its hot indexes lead with it or with
  the query shape the rule compiler needs), so it can be distributed by ``contact_id``;
- custom data is JSON, never a column per field;
- timestamps are UTC (``UTCDateTime``);
- the Alembic migrations in ``store/migrations`` are checked against this module by a test.
"""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata as metadata
from tidings.store.schema_base import now_default as now_default
from tidings.store.types import BigId, JSONDoc, UTCDateTime

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

# On PostgreSQL ``events`` (and ``traces``) are partitioned by month (migration 0022,
# store/partitions.py): the primary key there is (id, occurred_at) and ``message_id`` is not
# unique in the table (a partitioned table's unique keys must hold its partition key), so
# idempotency lives in ``event_receipts``. SQLite keeps this declaration as it is.

#: one row per accepted message id, written in the ingest insert's transaction on both
#: databases: a repeated message id is never stored twice. Pruned after
#: ``TIDINGS_RECEIPT_DAYS`` (default 30) days by the worker's partition maintenance.
event_receipts = sa.Table(
    "event_receipts",
    metadata,
    sa.Column("message_id", sa.String(200), primary_key=True),
    sa.Column("event_id", BigId, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index("ix_event_receipts_received_at", "received_at"),
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

# --------------------------------------------------------------------------- the other areas

# campaigns: defined by a function of their own module on this ``metadata``
from tidings.store import schema_campaigns  # noqa: E402
from tidings.store.schema_analytics import analytics_daily as analytics_daily  # noqa: E402
from tidings.store.schema_analytics import analytics_edges as analytics_edges  # noqa: E402
from tidings.store.schema_analytics import analytics_firsts as analytics_firsts  # noqa: E402
from tidings.store.schema_analytics import analytics_groups as analytics_groups  # noqa: E402
from tidings.store.schema_analytics import experiment_decisions as experiment_decisions  # noqa: E402
from tidings.store.schema_analytics import experiment_members as experiment_members  # noqa: E402
from tidings.store.schema_analytics import journey_economics as journey_economics  # noqa: E402
from tidings.store.schema_analytics import journey_entrants as journey_entrants  # noqa: E402
from tidings.store.schema_analytics import marketing_goals as marketing_goals  # noqa: E402
from tidings.store.schema_audiences import audience_synced as audience_synced  # noqa: E402
from tidings.store.schema_delivery import dead_letters as dead_letters  # noqa: E402
from tidings.store.schema_delivery import feedback as feedback  # noqa: E402
from tidings.store.schema_delivery import inbox as inbox  # noqa: E402
from tidings.store.schema_delivery import sending_domains as sending_domains  # noqa: E402
from tidings.store.schema_delivery import suppressions as suppressions  # noqa: E402
from tidings.store.schema_delivery import tasks as tasks  # noqa: E402
from tidings.store.schema_delivery import templates as templates  # noqa: E402
from tidings.store.schema_forms import form_submissions as form_submissions  # noqa: E402
from tidings.store.schema_forms import forms as forms  # noqa: E402
from tidings.store.schema_import_jobs import import_jobs as import_jobs  # noqa: E402
from tidings.store.schema_journeys import alerts as alerts  # noqa: E402
from tidings.store.schema_journeys import enrollment_causes as enrollment_causes  # noqa: E402
from tidings.store.schema_journeys import enrollments as enrollments  # noqa: E402
from tidings.store.schema_journeys import journey_versions as journey_versions  # noqa: E402
from tidings.store.schema_journeys import journeys as journeys  # noqa: E402
from tidings.store.schema_journeys import outbox as outbox  # noqa: E402
from tidings.store.schema_journeys import timers as timers  # noqa: E402
from tidings.store.schema_journeys import traces as traces  # noqa: E402
from tidings.store.schema_plan import content_plan as content_plan  # noqa: E402
from tidings.store.schema_plan import content_plan_cells as content_plan_cells  # noqa: E402
from tidings.store.schema_plan import template_reviews as template_reviews  # noqa: E402
from tidings.store.schema_retention import retention_runs as retention_runs  # noqa: E402
from tidings.store.schema_scoring import contact_scores as contact_scores  # noqa: E402
from tidings.store.schema_scoring import score_history as score_history  # noqa: E402
from tidings.store.schema_scoring import scoring_model_versions as scoring_model_versions  # noqa: E402
from tidings.store.schema_scoring import scoring_models as scoring_models  # noqa: E402
from tidings.store.schema_scoring import stage_moves as stage_moves  # noqa: E402
from tidings.store.schema_sources import source_checkouts as source_checkouts  # noqa: E402
from tidings.store.schema_sources import sources as sources  # noqa: E402

campaigns, campaign_recipients = schema_campaigns.define(metadata)
