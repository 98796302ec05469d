"""Form definitions: create, edit, list, show, and a form's submissions (the marketer's side)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.application.ports.forms import FormRecord, FormsUnitOfWork, SubmissionRecord
from tidings.domain.forms.model import FormInvalid, parse_form


class UnknownForm(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"form {key!r} not found")
        self.key = key


def create_form(uow: FormsUnitOfWork, doc: Any, now: datetime) -> FormRecord:
    """Validate and store a new form; raises FormInvalid, FormExists."""
    definition = parse_form(doc)
    with uow:
        uow.forms.add(definition, now)
        uow.commit()
        return _get(uow, definition.key)


def edit_form(uow: FormsUnitOfWork, key: str, doc: Any, now: datetime) -> FormRecord:
    """Replace a form's definition (its key stays); raises UnknownForm, FormInvalid."""
    if isinstance(doc, dict) and doc.get("key", key) != key:
        raise FormInvalid([("key", "a form's key cannot change")])
    definition = parse_form({**doc, "key": key} if isinstance(doc, dict) else doc)
    with uow:
        if not uow.forms.replace(definition, now):
            raise UnknownForm(key)
        uow.commit()
        return _get(uow, key)


def get_form(uow: FormsUnitOfWork, key: str) -> FormRecord:
    with uow:
        return _get(uow, key)


def list_forms(uow: FormsUnitOfWork) -> list[FormRecord]:
    with uow:
        return uow.forms.list()


def submissions(uow: FormsUnitOfWork, key: str, limit: int = 100) -> list[SubmissionRecord]:
    """A form's submissions, newest first; raises UnknownForm."""
    with uow:
        _get(uow, key)
        return uow.form_submissions.of_form(key, limit)


def _get(uow: FormsUnitOfWork, key: str) -> FormRecord:
    rec = uow.forms.get(key)
    if rec is None:
        raise UnknownForm(key)
    return rec


def form_json(rec: FormRecord) -> dict[str, Any]:
    return {"id": rec.id, **rec.definition.as_doc(), "created_at": rec.created_at.isoformat(),
            "updated_at": rec.updated_at.isoformat()}


def submission_json(rec: SubmissionRecord) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": rec.id, "form": rec.form_key, "contact_id": rec.contact_id, "email": rec.email,
        "status": str(rec.status), "submitted_at": iso(rec.submitted_at), "ip": rec.ip,
        "user_agent": rec.user_agent, "page_url": rec.page_url, "consents": rec.consents, "data": rec.data,
        "confirmation_sent_at": iso(rec.confirmation_sent_at), "reminded_at": iso(rec.reminded_at),
        "confirmed_at": iso(rec.confirmed_at), "expires_at": iso(rec.expires_at),
    }
