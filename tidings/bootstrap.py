"""The composition root: builds every part of Tidings from settings. Nothing is built at import time.

``build`` returns a :class:`Container`: a typed dataclass of the wired adapters and use-case
objects (no string-keyed locator). Adapters below it are typed against
``tidings.application.ports.wiring.Wiring`` and never import this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from tidings.application.access.keys import KeyVerifier
from tidings.application.forms.intake import FormsTransaction
from tidings.application.forms.submit import SubmissionGate
from tidings.application.ingest.ingest import Incoming, IngestResult, ingest
from tidings.application.journeys.engine import JourneyEngine
from tidings.application.ports.audiences import AudienceMembers, AudienceSync, SyncedAudience
from tidings.application.ports.clock import Clock
from tidings.application.ports.contact_search import ContactSearch
from tidings.application.ports.crm import CrmClient
from tidings.application.ports.dns import TxtResolver
from tidings.application.ports.import_jobs import ImportJobs
from tidings.application.ports.segments import SegmentStore
from tidings.application.ports.senders import ChannelProvider
from tidings.application.ports.sources import LeadFetcher
from tidings.application.sources.intake import IntakeTransaction
from tidings.channels import email
from tidings.channels.dns_resolver import DnspythonResolver
from tidings.channels.registry import ChannelRegistry, build_registry
from tidings.channels.sns import SnsVerifier
from tidings.channels.tracking import FormConfirmLinks
from tidings.clock import ManualClock, SystemClock
from tidings.domain import template_limits
from tidings.masking import masked_url, redact
from tidings.settings import Settings, new_secret
from tidings.store.analytics import SqlAnalytics
from tidings.store.app_state_sql import has_schema, stored_secret
from tidings.store.audiences_sql import SqlAudienceMembers, SqlSyncedAudience
from tidings.store.contact_search_sql import SqlContactSearch
from tidings.store.control import SqlControl
from tidings.store.db import Connection, DatabaseError, Engine, create_engine
from tidings.store.engine_sql import SqlEngineStorage
from tidings.store.import_jobs_sql import SqlImportJobs
from tidings.store.ingest_sql import IngestWriter
from tidings.store.scoring_sql import SqlScoring
from tidings.store.segments_sql import SqlSegmentStore
from tidings.store.sources_sql import SqlCheckouts
from tidings.store.sql_uow import SqlUnitOfWork

__all__ = ["Container", "StartupError", "build", "open_container"]

log = logging.getLogger("tidings")
T = TypeVar("T")


class SqlIntakeTransaction:
    """A vendor delivery's transaction (``application/sources/intake.py``) on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.checkouts = SqlCheckouts(conn)

    def ingest(self, items: Sequence[Incoming], now: datetime, source: str) -> IngestResult:
        return ingest(SqlUnitOfWork.joining(self.conn), items, now, source)


class SqlFormsTransaction:
    """A public form submission's transaction (``application/forms/intake.py``) on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.uow = SqlUnitOfWork.joining(conn)

    def ingest(self, items: Sequence[Incoming], now: datetime, source: str) -> IngestResult:
        return ingest(self.uow, items, now, source)


class StartupError(RuntimeError):
    """Tidings cannot start as configured (the message says what to do)."""


@dataclass
class Container:
    """Everything a request handler, a worker or a CLI command needs, built once by :func:`build`."""

    settings: Settings
    engine: Engine
    clock: Clock
    secret_key: str = field(repr=False)
    #: API keys, looked up by hash with a short cache (the API's authentication).
    keys: KeyVerifier
    #: the journey engine of API / CLI requests (signals, manual enrolment); workers build their own.
    journey_engine: JourneyEngine
    #: SES/SNS signature checks (certificates cached); tests swap in a fake fetcher.
    sns_verifier: SnsVerifier
    #: the group-committing writer of ingest requests.
    ingest_writer: IngestWriter
    #: the running delivery loop's providers, once it started in this process (see runtime.py).
    channel_registry: ChannelRegistry | None = field(default=None)
    #: real time for leases (is a sender alive?), even when ``clock`` is a test clock.
    lease_clock: Clock = field(default_factory=SystemClock)
    #: DNS TXT look-ups (sending-domain checks in /settings); tests swap in a fake.
    dns_resolver: TxtResolver = field(default_factory=DnspythonResolver)
    #: the public forms' rate limit (per IP and per form, in this process's memory)
    form_gate: SubmissionGate = field(default_factory=SubmissionGate)

    @property
    def segments(self) -> SegmentStore:
        """Saved segments and their memberships (the segments API, web pages, CLI, refresher)."""
        return SqlSegmentStore(self.engine)

    @property
    def contact_search(self) -> ContactSearch:
        """Full-text search over contacts (FTS5 on SQLite, pg_trgm on PostgreSQL)."""
        return SqlContactSearch(self.engine)

    @property
    def import_jobs(self) -> ImportJobs:
        """The web import wizard's jobs (table ``import_jobs``): every process sees every job."""
        return SqlImportJobs(self.engine)

    @property
    def audience_members(self) -> AudienceMembers:
        """A segment's members as the ad-audience export reads them."""
        return SqlAudienceMembers(self.engine)

    @property
    def synced_audiences(self) -> SyncedAudience:
        """The hashes last sent to each live audience destination."""
        return SqlSyncedAudience(self.engine)

    def audience_destination(self, name: str, platform: str) -> AudienceSync:
        """The configured destination ``name`` (``TIDINGS_AUDIENCE_DESTINATIONS``); KeyError if none."""
        from tidings.channels.audience_http import HttpAudienceSync
        from tidings.channels.webhooks import allow_list

        urls = dict(self.settings.audience_destinations)
        if name not in urls:
            raise KeyError(name)
        return HttpAudienceSync(urls[name], platform, allow_list(self), self.settings.audience_token)

    def lead_fetcher(self) -> LeadFetcher | None:
        """Meta lead ads' Graph API reader, or None without ``TIDINGS_META_ACCESS_TOKEN``."""
        from tidings.channels.meta_graph import GraphLeadFetcher

        token = self.settings.meta_access_token
        return GraphLeadFetcher(self.settings.meta_graph_url, token) if token else None

    def crm_client(self, system: str) -> CrmClient | None:
        """The configured client of a CRM ("hubspot", "salesforce"), or None; the caller closes it."""
        from tidings.channels import crm_hubspot, crm_salesforce

        builders = {"hubspot": crm_hubspot.build_client, "salesforce": crm_salesforce.build_client}
        build_client = builders.get(system)
        return build_client(self) if build_client is not None else None

    def handoff_document(
        self, contact_id: int, *, events: int = 20, context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The hand-off document of a contact (docs/crm.md): fields, score explanations, latest events."""
        from tidings.application.crm.document import handoff_document

        with self.uow(read_only=True) as uow:
            return handoff_document(uow, contact_id, self.clock.now(), events=events, context=context)

    @property
    def manual_clock(self) -> ManualClock | None:
        return self.clock if isinstance(self.clock, ManualClock) else None

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A fresh unit of work on this container's database (``with uow: ...; uow.commit()``)."""
        return SqlUnitOfWork(self.engine, read_only=read_only)

    def intake(self, work: Callable[[IntakeTransaction], T]) -> T:
        """``work`` in one ingest transaction (the group-committing writer): vendor deliveries."""
        return self.ingest_writer.run(lambda conn: work(SqlIntakeTransaction(conn)))

    def forms_intake(self, work: Callable[[FormsTransaction], T]) -> T:
        """``work`` in one ingest transaction (the group-committing writer): public form submissions."""
        return self.ingest_writer.run(lambda conn: work(SqlFormsTransaction(conn)))

    @property
    def form_links(self) -> FormConfirmLinks:
        """Signed double opt-in links on this server's public URL."""
        return FormConfirmLinks(self.secret_key, self.settings.public_url)

    def due_checkouts(self, now: datetime) -> int:
        """How many watched checkouts are due for abandonment (a read, no write lock)."""
        with self.engine.connect() as conn:
            return SqlCheckouts(conn).due_count(now)

    def email_provider(self) -> ChannelProvider:
        """A fresh email provider as configured (SMTP, or the built-in catcher); the caller closes it."""
        return email.build_provider(self)

    def channel_providers(self) -> dict[str, str]:
        """channel -> name of the provider delivery uses for it ("smtp", "catcher", "sink"...)."""
        registry = self.channel_registry
        if registry is not None:
            return {ch: registry.get(ch).name for ch in registry.channels()}
        built = build_registry(self)
        try:
            return {ch: built.get(ch).name for ch in built.channels()}
        finally:
            _close(built)


def _close(registry: ChannelRegistry) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(registry.aclose())
        return
    # called from inside an event loop (an async handler): close on a fresh loop in a thread
    import threading

    closer = threading.Thread(target=lambda: asyncio.run(registry.aclose()), name="close-registry")
    closer.start()
    closer.join()


def build(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Container:
    engine = engine or create_engine(settings.database_url)
    if clock is None:
        clock = ManualClock() if settings.test_clock else SystemClock()
    # templates' render time budget bounds work, not business time: real seconds, even on a test clock
    template_limits.use_ticker(time.monotonic)
    secret = settings.secret_key or _stored_secret(engine, settings.database_url)
    return Container(
        settings=settings,
        engine=engine,
        clock=clock,
        secret_key=secret,
        keys=KeyVerifier(partial(SqlUnitOfWork, engine, read_only=True)),
        journey_engine=JourneyEngine(
            SqlEngineStorage(engine), clock, "api", control=SqlControl, analytics=SqlAnalytics, scoring=SqlScoring
        ),
        sns_verifier=SnsVerifier(),
        ingest_writer=IngestWriter(engine),
    )


def open_container(database_url: str | None = None, *, migrate: bool = True) -> Container:
    """Build the container from the environment (read once); the embedded default migrates itself.

    Raises :class:`StartupError` when the database cannot be prepared or read.
    """
    settings = Settings.from_env(database_url=database_url) if database_url else Settings.from_env()
    engine = create_engine(settings.database_url)
    if migrate:
        from tidings.store.migrate import upgrade  # alembic: only when migrating

        try:
            upgrade(engine)
        except Exception as exc:
            message = f"could not prepare the database at {settings.database_url}: {exc}"
            raise StartupError(redact(message, settings.database_url)) from exc
    return build(settings, engine=engine)


def _stored_secret(engine: Engine, url: str) -> str:
    """The signing secret: generated on first use and kept in the database (app_state).

    Any database error stops startup: a random secret instead would silently break every
    link already sent and every session. A database with no schema yet is named as such.
    """
    try:
        return stored_secret(engine, new_secret)
    except DatabaseError as exc:
        try:
            migrated = has_schema(engine)
        except DatabaseError:
            migrated = True  # cannot even look: report the original error
        if not migrated:
            raise StartupError(
                f"the database at {masked_url(url)} has no Tidings schema yet: run `tidings db upgrade` "
                "(or `tidings serve`, which migrates the embedded default)"
            ) from exc
        raise StartupError(
            redact(
                f"could not read the signing secret from the database at {url}: {exc.__class__.__name__}: {exc}. "
                "Fix the database (or set TIDINGS_SECRET_KEY) and start again.",
                url,
            )
        ) from exc
