"""Tables of the vendor sources (docs/sources.md): the connected shops and payment providers,
and the checkouts watched for abandonment. Part of ``schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    #: shopify | stripe | woocommerce | zoom
    sa.Column("vendor", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    #: the signing secret the vendor shares (needed in clear to compute its HMAC; never shown again)
    sa.Column("secret", sa.String(500), nullable=False),
    #: a checkout quiet this long becomes ``Cart Abandoned`` (Shopify)
    sa.Column("abandon_after_seconds", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("vendor", "name"),
    sqlite_autoincrement=True,
)

source_checkouts = sa.Table(
    "source_checkouts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.BigInteger, sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    sa.Column("checkout_id", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    #: the ``Cart Abandoned`` properties (cart_id, products, total, currency, cart_url)
    sa.Column("properties", JSONDoc, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Column("abandon_at", UTCDateTime, nullable=False, index=True),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("abandoned_at", UTCDateTime),
    sa.UniqueConstraint("source_id", "checkout_id"),
)
