"""Ports of the forms capability: form definitions and their submissions (consent proof, opt-in state).

Implemented by ``store/forms_sql.py`` (and ``store/memory/forms.py``); the contract suite
``tests/contract/test_forms_repositories.py`` runs on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.contacts import PreferencesUnitOfWork
from tidings.application.ports.content import ContactReader
from tidings.domain.forms.model import FormDefinition
from tidings.domain.forms.pending import PendingStatus
from tidings.domain.forms.records import FormExists, FormRecord, SubmissionRecord

__all__ = ["ConfirmationLinks", "FormExists", "FormRecord", "FormRepository", "FormsUnitOfWork", "SubmissionRecord",
           "SubmissionRepository"]


class FormRepository(Protocol):
    def add(self, definition: FormDefinition, now: datetime) -> int:
        """The new form's id; raises :class:`FormExists` for a key in use."""
        ...

    def replace(self, definition: FormDefinition, now: datetime) -> bool:
        """Store a new definition under its key; False when no such form."""
        ...

    def get(self, key: str) -> FormRecord | None: ...

    def list(self) -> list[FormRecord]:
        """Every form, by key."""
        ...


class SubmissionRepository(Protocol):
    def add(self, values: Mapping[str, Any]) -> int:
        """A new submission row (the columns of ``SubmissionRecord`` but ``id``); its id."""
        ...

    def get(self, submission_id: int) -> SubmissionRecord | None: ...

    def of_form(self, form_key: str, limit: int = 100) -> list[SubmissionRecord]:
        """The form's submissions, newest first."""
        ...

    def due(self, now: datetime, limit: int = 200) -> list[SubmissionRecord]:
        """Pending submissions whose reminder or expiry is due by ``now``, oldest first."""
        ...

    def set_status(
        self, submission_id: int, expected: PendingStatus, status: PendingStatus, *,
        confirmed_at: datetime | None = None,
    ) -> bool:
        """Move from ``expected`` to ``status`` (a conditional update: False when it was not ``expected``)."""
        ...

    def claim_mail(self, submission_id: int, mail: str, now: datetime) -> bool:
        """Claim sending ``mail`` (``confirmation`` | ``reminder``): sets its ``*_at`` column when it
        is empty. True for the one caller that may send it."""
        ...

    def release_mail(self, submission_id: int, mail: str) -> None:
        """The send failed: empty the column again so the next pass retries."""
        ...


class ConfirmationLinks(Protocol):
    def confirm_url(self, submission_id: int, nonce: int, expires_at: datetime, now: datetime) -> str:
        """The signed ``/f/confirm/{token}`` URL of a submission, valid until ``expires_at``."""
        ...


class FormsUnitOfWork(PreferencesUnitOfWork, Protocol):
    """The forms, their submissions, consents + events (``PreferencesUnitOfWork``) and the contacts
    reader (with ``templates``, a ``TemplatesUnitOfWork``: confirmation emails from a template)."""

    @property
    def contacts(self) -> ContactReader: ...

    @property
    def forms(self) -> FormRepository: ...

    @property
    def form_submissions(self) -> SubmissionRepository: ...
