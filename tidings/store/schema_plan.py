"""Tables of the content plan (docs/content-plan.md): the plan document (one per workspace), its
cells, and when each template was last marked reviewed. Part of ``schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import JSONDoc, UTCDateTime

#: one row (id 1): the personas, stages and questions (``domain/plan/model.PlanDoc.as_doc``)
content_plan = sa.Table(
    "content_plan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("document", JSONDoc, nullable=False),
    sa.Column("feed_version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

content_plan_cells = sa.Table(
    "content_plan_cells",
    metadata,
    sa.Column("persona", sa.String(64), primary_key=True),
    sa.Column("stage", sa.String(64), primary_key=True),
    sa.Column("question", sa.String(64), primary_key=True),
    #: template keys and asset URLs (JSON lists of strings)
    sa.Column("templates", JSONDoc, nullable=False),
    sa.Column("assets", JSONDoc, nullable=False),
    sa.Column("channel", sa.String(20)),
    sa.Column("owner", sa.String(200)),
    sa.Column("publish_on", sa.Date),
    sa.Column("review_on", sa.Date),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: a template key's last review ("still right"), beside ``templates.updated_at`` (its last edit)
template_reviews = sa.Table(
    "template_reviews",
    metadata,
    sa.Column("template_key", sa.String(200), primary_key=True),
    sa.Column("reviewed_at", UTCDateTime, nullable=False),
    sa.Column("reviewed_by", sa.String(320)),
)
