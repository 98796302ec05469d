"""The unit of work on SQLAlchemy Core: one connection, one transaction, every SQL repository.

``SqlUnitOfWork(engine)`` opens its own transaction on ``with`` and keeps it on ``commit()``
(SQLite: ``BEGIN IMMEDIATE`` as every writer does, ``read_only=True`` for ``BEGIN DEFERRED``).
``SqlUnitOfWork.joining(conn)`` works inside a transaction the caller already holds (an API
route's ``engine.begin()``, the delivery loop's batch): its repositories are ready at once,
``with`` and ``commit()`` do nothing, and the owner of the transaction commits or rolls back.
It implements every capability's unit of work Protocol (``application/ports``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tidings.store.access_sql import SqlApiKeys, SqlLoginThrottle, SqlSessions, SqlUsers
from tidings.store.campaigns_sql import SqlCampaigns
from tidings.store.contact_import_sql import SqlContactImport
from tidings.store.contacts_sql import SqlConsents, SqlSuppressions
from tidings.store.content_sql import SqlTemplates
from tidings.store.db import read_only as read_only_conn
from tidings.store.delivery_sql import SqlDeadLetters, SqlOutbox
from tidings.store.enrolments_sql import SqlEnrolments
from tidings.store.event_ingest_sql import SqlEventIngest
from tidings.store.feedback_sql import SqlFeedback
from tidings.store.forms_sql import SqlForms, SqlFormSubmissions
from tidings.store.identity_sql import SqlContacts
from tidings.store.inbox_sql import SqlInbox
from tidings.store.journey_runs_sql import SqlJourneyRuns
from tidings.store.journeys import SqlJourneys
from tidings.store.plan_sql import SqlContentPlan
from tidings.store.sales_sql import SqlEventLog, SqlSettings, SqlTasks
from tidings.store.scoring_sql import SqlScoring
from tidings.store.segments_sql import SqlSegments
from tidings.store.sources_sql import SqlCheckouts, SqlSources
from tidings.store.traces_sql import SqlMessageTraces


class SqlUnitOfWork:
    users: SqlUsers
    sessions: SqlSessions
    api_keys: SqlApiKeys
    login_throttle: SqlLoginThrottle
    templates: SqlTemplates
    contacts: SqlContacts
    consents: SqlConsents
    suppressions: SqlSuppressions
    outbox: SqlOutbox
    dead_letters: SqlDeadLetters
    inbox: SqlInbox
    feedback: SqlFeedback
    tasks: SqlTasks
    settings: SqlSettings
    events: SqlEventLog
    journeys: SqlJourneys
    journey_runs: SqlJourneyRuns
    enrolments: SqlEnrolments
    traces: SqlMessageTraces
    sources: SqlSources
    checkouts: SqlCheckouts
    campaigns: SqlCampaigns
    scoring: SqlScoring
    forms: SqlForms
    form_submissions: SqlFormSubmissions
    content_plan: SqlContentPlan
    segments: SqlSegments
    event_ingest: SqlEventIngest
    contact_import: SqlContactImport

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine: Engine | None = engine
        self._read_only = read_only
        self._conn: sa.Connection | None = None

    @classmethod
    def joining(cls, conn: sa.Connection) -> SqlUnitOfWork:
        """A unit of work inside the caller's open transaction on ``conn``."""
        uow = cls.__new__(cls)
        uow._engine = None
        uow._read_only = False
        uow._conn = conn
        uow._bind(conn)
        return uow

    @property
    def connection(self) -> sa.Connection:
        """The connection of the open transaction (for SQL not yet behind a repository)."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._conn

    def _bind(self, conn: sa.Connection) -> None:
        self.users = SqlUsers(conn)
        self.sessions = SqlSessions(conn)
        self.api_keys = SqlApiKeys(conn)
        self.login_throttle = SqlLoginThrottle(conn)
        self.templates = SqlTemplates(conn)
        self.contacts = SqlContacts(conn)
        self.consents = SqlConsents(conn)
        self.suppressions = SqlSuppressions(conn)
        self.outbox = SqlOutbox(conn)
        self.dead_letters = SqlDeadLetters(conn)
        self.inbox = SqlInbox(conn)
        self.feedback = SqlFeedback(conn)
        self.tasks = SqlTasks(conn)
        self.settings = SqlSettings(conn)
        self.events = SqlEventLog(conn)
        self.journeys = SqlJourneys(conn)
        self.journey_runs = SqlJourneyRuns(conn)
        self.enrolments = SqlEnrolments(conn)
        self.traces = SqlMessageTraces(conn)
        self.sources = SqlSources(conn)
        self.checkouts = SqlCheckouts(conn)
        self.campaigns = SqlCampaigns(conn)
        self.scoring = SqlScoring(conn)
        self.forms = SqlForms(conn)
        self.form_submissions = SqlFormSubmissions(conn)
        self.content_plan = SqlContentPlan(conn)
        self.segments = SqlSegments(conn)
        self.event_ingest = SqlEventIngest(conn)
        self.contact_import = SqlContactImport(conn)

    def __enter__(self) -> Self:
        if self._engine is None:  # joined: the caller's transaction is already open
            return self
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn = self._engine.connect()
        if self._read_only:
            conn = read_only_conn(conn)
        self._conn = conn
        conn.begin()
        self._bind(conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._engine is None:
            return
        try:
            if self._conn is not None and self._conn.in_transaction():
                self._conn.rollback()  # not committed: nothing is kept
        finally:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    def commit(self) -> None:
        if self._engine is None:
            return
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        self._conn.commit()  # a later statement in the block begins the next transaction

    def rollback(self) -> None:
        if self._engine is None:
            return
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        self._conn.rollback()


def joined(conn: sa.Connection) -> SqlUnitOfWork:
    """``SqlUnitOfWork.joining(conn)``: the unit of work of the caller's open transaction."""
    return SqlUnitOfWork.joining(conn)
