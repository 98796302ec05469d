"""Tables of lead scoring: models and their versions, contact scores, score history (part of
``schema.py``, which re-exports every table)."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

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

#: the stage funnel over time: contacts a model moved from one stage into another per UTC day
#: (``from_stage`` "" = no stage yet), added up as thresholds are crossed; rebuilt from the
#: ``score.threshold_crossed`` events by ``tidings scoring rebuild-funnel``.
stage_moves = sa.Table(
    "stage_moves",
    metadata,
    sa.Column("model_id", BigId, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("from_stage", sa.String(64), primary_key=True),
    sa.Column("to_stage", sa.String(64), primary_key=True),
    sa.Column("direction", sa.String(4), primary_key=True),
    sa.Column("moved", sa.BigInteger, nullable=False),
)
