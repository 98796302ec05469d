"""What the forms repositories hold: a stored form and a stored submission (with its consent proof)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.domain.forms.model import FormDefinition
from tidings.domain.forms.pending import Pending, PendingStatus

#: the emails of a double opt-in -> the column that records each was sent
MAIL_COLUMNS = {"confirmation": "confirmation_sent_at", "reminder": "reminded_at"}


class FormExists(ValueError):
    """A form key already in use."""


@dataclass(frozen=True, slots=True)
class FormRecord:
    id: int
    key: str
    definition: FormDefinition
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """One accepted submission: the proof of what was shown and ticked, and its confirmation state."""

    id: int
    form_key: str
    contact_id: int
    email: str
    status: PendingStatus
    #: a random number the confirmation link carries with the id (a link names one submission)
    nonce: int
    submitted_at: datetime
    ip: str
    user_agent: str
    page_url: str
    #: [{"channel": "email", "text": "<the exact sentence>"}] of the boxes ticked
    consents: list[dict[str, str]] = field(default_factory=list)
    #: the contact change the submission made (fields and attributes)
    data: dict[str, Any] = field(default_factory=dict)
    remind_at: datetime | None = None
    expires_at: datetime | None = None
    reminded_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmation_sent_at: datetime | None = None

    def pending(self) -> Pending:
        return Pending(self.id, self.status, self.submitted_at, self.remind_at, self.expires_at,
                       self.reminded_at, self.confirmed_at)
