"""Tables of the forms (docs/forms.md): form definitions and their submissions, each submission the
consent proof (exact text, time, IP, user agent, page) and the double opt-in state. Part of
``schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import BigId, JSONDoc, UTCDateTime

forms = sa.Table(
    "forms",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    #: the validated document (``domain/forms/model.FormDefinition.as_doc``)
    sa.Column("definition", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)

form_submissions = sa.Table(
    "form_submissions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("form_key", sa.String(64), nullable=False, index=True),
    sa.Column("contact_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False),
    #: direct | pending | confirmed | expired (``domain/forms/pending.PendingStatus``)
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("nonce", sa.BigInteger, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(500), nullable=False),
    sa.Column("page_url", sa.String(2000), nullable=False),
    #: the boxes ticked, each with the exact text shown
    sa.Column("consents", JSONDoc, nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Column("remind_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("reminded_at", UTCDateTime),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("confirmation_sent_at", UTCDateTime),
    sa.Index("ix_form_submissions_status_expires_at", "status", "expires_at"),
    sqlite_autoincrement=True,
)
