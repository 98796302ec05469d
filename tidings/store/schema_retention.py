"""Tables of retention (part of ``schema.py``, which re-exports every table): the log of runs.
The policy itself is one ``app_state`` row (key ``retention_policy``)."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

#: one row per retention run or dry run: when, who or what started it, the policy applied and
#: the rows deleted (or, for a dry run, that would be) per kind.
retention_runs = sa.Table(
    "retention_runs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(320), nullable=False),  # worker | cli | api:key <id> | web:<email>
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("policy", JSONDoc, nullable=False),
    sa.Column("counts", JSONDoc, nullable=False),
    sa.Index("ix_retention_runs_started_at", "started_at"),
    sqlite_autoincrement=True,
)
