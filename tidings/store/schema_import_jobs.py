"""Table of the web import wizard's jobs (``domain/imports/jobs.py``): the uploaded file, its
mapping, state, progress and report. Part of ``schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.schema_base import metadata
from tidings.store.types import JSONDoc, UTCDateTime

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

import_jobs = sa.Table(
    "import_jobs",
    metadata,
    #: an unguessable token (the wizard's URLs carry it)
    sa.Column("id", sa.String(32), primary_key=True),
    #: who uploaded it (users.id); only they see it in the wizard
    sa.Column("owner", BIG, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    #: the uploaded CSV (UTF-8 text), kept until the job is purged
    sa.Column("csv_text", sa.Text, nullable=False),
    sa.Column("header", JSONDoc, nullable=False),
    sa.Column("preview", JSONDoc, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    #: mapping | queued | running | checked | done | failed
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("preset", sa.String(32)),
    #: column -> field, as the run was asked
    sa.Column("mapping", JSONDoc, nullable=False),
    #: tags, consent channel and status, the writer's source
    sa.Column("options", JSONDoc, nullable=False),
    sa.Column("consent_source", sa.String(200), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("processed", sa.Integer, nullable=False),
    #: rows, created, updated, unchanged, suppressed
    sa.Column("counts", JSONDoc, nullable=False),
    #: the error report: every rejected row ({line, reason, row})
    sa.Column("rejected", JSONDoc, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: the last change (progress is the heartbeat of a running job)
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Index("ix_import_jobs_state_updated_at", "state", "updated_at"),
)
