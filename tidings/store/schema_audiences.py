"""Table of the ad audiences (docs/audiences.md): the hashes last sent to each live destination
for each segment, so a sync sends only the difference. Part of ``schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import UTCDateTime

audience_synced = sa.Table(
    "audience_synced",
    metadata,
    #: the destination's name (settings: ``TIDINGS_AUDIENCE_DESTINATIONS``)
    sa.Column("destination", sa.String(100), primary_key=True),
    sa.Column("segment_key", sa.String(100), primary_key=True),
    #: a SHA-256 hex of a normalised email or phone (never the clear value)
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("sent_at", UTCDateTime, nullable=False),
)
