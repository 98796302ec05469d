"""The unit of work of the in-memory adapter: a transaction over a ``MemoryStore``."""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Self

from tidings.store.memory.access import MemoryApiKeys, MemoryLoginThrottle, MemorySessions, MemoryUsers
from tidings.store.memory.campaigns import MemoryCampaigns
from tidings.store.memory.contacts import MemoryContacts
from tidings.store.memory.enrolments import MemoryEnrolments
from tidings.store.memory.feedback import MemoryFeedback
from tidings.store.memory.forms import MemoryForms, MemoryFormSubmissions
from tidings.store.memory.inbox import MemoryInbox
from tidings.store.memory.ingest import MemoryEventIngest
from tidings.store.memory.plan import MemoryContentPlan
from tidings.store.memory.records import (
    MemoryConsents,
    MemoryDeadLetters,
    MemoryEventLog,
    MemoryJourneys,
    MemoryOutbox,
    MemorySettings,
    MemorySuppressions,
    MemoryTasks,
    MemoryTemplates,
)
from tidings.store.memory.runs import MemoryJourneyRuns
from tidings.store.memory.scoring import MemoryScoring
from tidings.store.memory.segments import MemorySegments
from tidings.store.memory.sources import MemoryCheckouts, MemorySources
from tidings.store.memory.state import MemoryState, MemoryStore
from tidings.store.memory.traces import MemoryMessageTraces


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._saved: MemoryState | None = None
        self.users = MemoryUsers(store)
        self.sessions = MemorySessions(store)
        self.api_keys = MemoryApiKeys(store)
        self.login_throttle = MemoryLoginThrottle(store)
        self.templates = MemoryTemplates(store)
        self.contacts = MemoryContacts(store)
        self.consents = MemoryConsents(store)
        self.suppressions = MemorySuppressions(store)
        self.outbox = MemoryOutbox(store)
        self.dead_letters = MemoryDeadLetters(store)
        self.inbox = MemoryInbox(store)
        self.feedback = MemoryFeedback(store)
        self.tasks = MemoryTasks(store)
        self.settings = MemorySettings(store)
        self.events = MemoryEventLog(store)
        self.journeys = MemoryJourneys(store)
        self.journey_runs = MemoryJourneyRuns(store)
        self.enrolments = MemoryEnrolments(store)
        self.traces = MemoryMessageTraces(store)
        self.sources = MemorySources(store)
        self.checkouts = MemoryCheckouts(store)
        self.campaigns = MemoryCampaigns(store)
        self.scoring = MemoryScoring(store)
        self.forms = MemoryForms(store)
        self.form_submissions = MemoryFormSubmissions(store)
        self.content_plan = MemoryContentPlan(store)
        self.segments = MemorySegments(store)
        self.event_ingest = MemoryEventIngest(store)

    def __enter__(self) -> Self:
        if self._saved is not None:
            raise RuntimeError("this unit of work is already open")
        self.store.lock.acquire()
        self._saved = copy.deepcopy(self.store.state)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._saved is not None:
                self.store.state = self._saved  # what was not committed is forgotten
        finally:
            self._saved = None
            self.store.lock.release()

    def commit(self) -> None:
        if self._saved is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        self._saved = copy.deepcopy(self.store.state)

    def rollback(self) -> None:
        if self._saved is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        self.store.state = copy.deepcopy(self._saved)
