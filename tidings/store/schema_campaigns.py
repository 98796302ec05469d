"""Tables of the campaigns capability (kept apart: ``schema.py`` is near its size budget).

``schema.py`` calls :func:`define` on its ``metadata`` and exposes the tables as
``schema.campaigns`` and ``schema.campaign_recipients``; use them from there."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.types import BigId, JSONDoc, UTCDateTime


def define(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Add the campaign tables to ``metadata``: (campaigns, campaign_recipients)."""
    #: one-off sends to a segment (``domain/campaigns/model.py``: the document and its states).
    campaigns = sa.Table(
        "campaigns",
        metadata,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(100), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("segment", sa.String(100), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("subjects", JSONDoc, nullable=False),
        sa.Column("schedule", JSONDoc, nullable=False),
        sa.Column("throttle", JSONDoc),
        sa.Column("ab", JSONDoc),
        #: draft | approved | scheduled | sending | sent | cancelled
        sa.Column("status", sa.String(20), nullable=False),
        #: the segment's size when it was approved (the audience itself is frozen at the start)
        sa.Column("audience_count", sa.Integer),
        sa.Column("approved_by", sa.String(320)),
        sa.Column("approved_at", UTCDateTime),
        sa.Column("start_at", UTCDateTime),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("cancelled_at", UTCDateTime),
        #: A/B: when the winner is chosen, the winner, its verdict sentence and the counts behind it
        sa.Column("winner_due_at", UTCDateTime),
        sa.Column("winner", sa.String(10)),
        sa.Column("winner_verdict", sa.Text),
        sa.Column("winner_detail", JSONDoc),
        sa.Column("created_by", sa.String(320)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Index("ix_campaigns_status_start_at", "status", "start_at"),
        sqlite_autoincrement=True,
    )

    #: the audience frozen at the start: one row per contact, its variant, slot and outbox row.
    campaign_recipients = sa.Table(
        "campaign_recipients",
        metadata,
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        #: "A", "B"...; NULL while the contact waits for the A/B winner
        sa.Column("variant", sa.String(10)),
        #: the throttled slot (outbox.next_attempt_at); NULL while waiting for the winner
        sa.Column("send_at", UTCDateTime),
        #: set in the transaction that enqueued the outbox row (idempotency key campaign:<id>:<contact>)
        sa.Column("outbox_id", BigId),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id"),
        sa.Index("ix_campaign_recipients_campaign_id_outbox_id_send_at", "campaign_id", "outbox_id", "send_at"),
    )
    return campaigns, campaign_recipients
