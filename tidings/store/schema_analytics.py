"""Tables of analytics and measurement: daily rollups, first opens/clicks, experiment decisions,
marketing goals and journey economics (part of ``schema.py``, which re-exports every table)."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

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

# --------------------------------------------------------------------------- control groups, experiments

#: one row per (journey, contact) who ever entered: the control group recorded at the first entry
#: (``domain/analytics/holdout.in_control_group`` with the entered version's percent), the version
#: entered and the contact's ``journey.converted`` revenue so far (what ``analytics_groups`` adds up).
journey_entrants = sa.Table(
    "journey_entrants",
    metadata,
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("journey_version", sa.Integer, nullable=False),
    sa.Column("held_out", sa.Boolean, nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.Column("converted_at", UTCDateTime),
    sa.Column("revenue", sa.Float, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("journey_id", "contact_id"),
)

#: control-group rollups, one row per (day, journey, version, group): first entries (``entrants``,
#: by entry day), first conversions (``converted``) and revenue (``revenue``; ``revenue_sq``: the
#: change of the sum over entrants of (revenue so far)^2, for the interval) by conversion day.
analytics_groups = sa.Table(
    "analytics_groups",
    metadata,
    sa.Column("day", sa.String(10), nullable=False),  # YYYY-MM-DD, UTC
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("journey_version", sa.Integer, nullable=False),
    sa.Column("held_out", sa.Boolean, nullable=False),
    sa.Column("entrants", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("converted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("revenue", sa.Float, nullable=False, server_default="0"),
    sa.Column("revenue_sq", sa.Float, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("journey_id", "day", "journey_version", "held_out"),
)

#: who went through a split step by chance (a rollout's contacts are not part of the test): one row
#: per (journey, split step, contact), the first pass, written in the worker's batch transaction.
experiment_members = sa.Table(
    "experiment_members",
    metadata,
    sa.Column("journey_id", BigId, nullable=False),
    sa.Column("step_id", sa.String(100), nullable=False),
    sa.Column("contact_id", BigId, nullable=False),
    sa.Column("variant", sa.String(200), nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("journey_id", "step_id", "contact_id"),
    #: the counts per variant and the first exposure from the index alone
    sa.Index(
        "ix_experiment_members_journey_id_step_id_variant_entered_at", "journey_id", "step_id", "variant", "entered_at"
    ),
)
