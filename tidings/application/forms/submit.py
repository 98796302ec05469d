"""A public submission and its confirmation: contact upsert, consent proof, double opt-in.

``submit`` runs in one ingest transaction (``intake.py``): the contact is created or updated by
an ``identify`` call and a ``form.submitted`` event (UTM and referrer among its properties and the
contact's attributes) through the ingest use case, so journeys see it; each consent box ticked is
recorded with its proof (form, exact text, time, IP, user agent, page), ``pending`` under double
opt-in, ``granted`` otherwise; the submission row keeps the same proof and the confirmation state.
The confirmation email itself is sent by the forms pass (``confirmations.py``) after the commit.

``confirm`` is the click on the signed link: pending -> confirmed grants each consent with the
proof and the confirmation's own time, IP and user agent, and appends ``form.confirmed``. An
expired or unknown submission changes nothing.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.application.contacts.contacts import normalise_input
from tidings.application.contacts.preferences import set_consent
from tidings.application.forms.forms import UnknownForm
from tidings.application.forms.intake import FormsRunner, FormsTransaction
from tidings.application.ingest.ingest import Incoming
from tidings.application.ports.forms import FormsUnitOfWork, SubmissionRecord
from tidings.domain.changes import change_event
from tidings.domain.contacts import InvalidValue
from tidings.domain.forms.model import FormDefinition
from tidings.domain.forms.pending import Outcome, PendingStatus, deadlines
from tidings.domain.forms.pending import confirm as confirm_pending
from tidings.domain.forms.ratelimit import SlidingWindow
from tidings.domain.forms.submission import SubmissionInvalid, check_submission, redirect_for

log = logging.getLogger("tidings.forms")
SOURCE = "form"


class BadLink(LookupError):
    """A confirmation link naming no submission of ours (or another nonce): nothing changes."""


@dataclass(frozen=True)
class Visitor:
    """Who submitted, as the HTTP edge saw it (the proof's IP, user agent, page and referrer)."""

    ip: str
    user_agent: str = ""
    page_url: str = ""
    referrer: str = ""


@dataclass(frozen=True)
class SubmitResult:
    form: FormDefinition
    #: None for spam (nothing stored)
    submission_id: int | None
    status: PendingStatus | None
    contact_id: int | None
    #: where to send the browser (only a URL the form allows), else show ``form.thank_you``
    redirect: str | None

    @property
    def spam(self) -> bool:
        return self.submission_id is None


@dataclass(frozen=True)
class ConfirmResult:
    outcome: Outcome
    form_key: str
    submission_id: int


class SubmissionGate:
    """The rate limit of public submissions, per IP and per form, in this process's memory
    (``domain/forms/ratelimit.py`` says why not in the database)."""

    def __init__(self, per_ip: int = 10, per_form: int = 300, window: timedelta = timedelta(minutes=10)) -> None:
        self.ip = SlidingWindow(per_ip, window)
        self.form = SlidingWindow(per_form, window)

    def allow(self, form_key: str, ip: str, now: datetime) -> bool:
        return self.ip.allow(f"{form_key}\x00{ip}", now) and self.form.allow(form_key, now)


def _clip(text: str, limit: int) -> str:
    return text[:limit]


def _proof(form: FormDefinition, text: str, visitor: Visitor, now: datetime, submission_id: int) -> dict[str, Any]:
    return {"form": form.key, "submission_id": submission_id, "text": text, "submitted_at": now.isoformat(),
            "ip": visitor.ip, "user_agent": _clip(visitor.user_agent, 500), "page_url": visitor.page_url,
            "double_opt_in": form.double_opt_in}


def submit(
    run: FormsRunner, form_key: str, values: Mapping[str, Any], visitor: Visitor, now: datetime, *,
    default_region: str | None = None,
) -> SubmitResult:
    """Accept a submission; raises UnknownForm, SubmissionInvalid (nothing stored)."""

    def work(tx: FormsTransaction) -> SubmitResult:
        rec = tx.uow.forms.get(form_key)
        if rec is None:
            raise UnknownForm(form_key)
        form = rec.definition
        checked = check_submission(form, values, page_url=visitor.page_url, referrer=visitor.referrer,
                                   default_region=default_region)
        if checked.spam:
            log.warning("form %s: honeypot filled from %s, submission dropped as spam", form.key, visitor.ip)
            return SubmitResult(form, None, None, None, redirect_for(form))
        try:
            change = normalise_input(checked.contact, now)
        except InvalidValue as exc:
            raise SubmissionInvalid([(exc.field, exc.message)]) from None
        ref = uuid.uuid4().hex
        attributes = change.get("attributes", {})
        props = {"form": form.key, "page_url": checked.page_url, "referrer": checked.referrer,
                 "consents": [c.channel for c in checked.consents], "double_opt_in": form.double_opt_in,
                 **{k: v for k, v in attributes.items() if k.startswith("utm_")}}
        result = tx.ingest([
            Incoming(kind="identify", message_id=f"form:{form.key}:{ref}:identify", occurred_at=now,
                     email=checked.email, changes=change, index=0, public=True),
            Incoming(kind="track", message_id=f"form:{form.key}:{ref}", occurred_at=now, name="form.submitted",
                     properties=props, email=checked.email, index=1),
        ], now, SOURCE)
        if len(result.contact_ids) != 1:
            raise RuntimeError(f"form {form.key}: the submission resolved to contacts {sorted(result.contact_ids)}")
        contact_id = next(iter(result.contact_ids))
        confirming = form.double_opt_in and bool(checked.consents)
        status = PendingStatus.PENDING if confirming else PendingStatus.DIRECT
        remind_at, expires_at = deadlines(now, form.remind_after_hours, form.expire_after_days)
        sid = tx.uow.form_submissions.add({
            "form_key": form.key, "contact_id": contact_id, "email": checked.email, "status": status,
            "nonce": secrets.randbelow(2**32), "submitted_at": now, "ip": _clip(visitor.ip, 64),
            "user_agent": _clip(visitor.user_agent, 500), "page_url": _clip(checked.page_url, 2000),
            "consents": [{"channel": c.channel, "text": c.text} for c in checked.consents], "data": change,
            "remind_at": remind_at if confirming else None, "expires_at": expires_at if confirming else None,
            "reminded_at": None, "confirmed_at": None, "confirmation_sent_at": None,
        })
        events: list[dict[str, Any]] = []
        for box in checked.consents:
            proof = _proof(form, box.text, visitor, now, sid)
            current = tx.uow.consents.get(contact_id, box.channel)
            if confirming and current is not None and current["status"] == "granted":
                continue  # already opted in: a new form does not take it back to pending
            events += set_consent(tx.uow, contact_id, box.channel, "pending" if confirming else "granted", now,
                                  source=SOURCE, proof=proof)
        tx.uow.events.append_changes(events, now)
        return SubmitResult(form, sid, status, contact_id, redirect_for(form))

    return run(work)


def confirm(
    run: Callable[[], FormsUnitOfWork], submission_id: int, nonce: int, visitor: Visitor, now: datetime,
) -> ConfirmResult:
    """The click on a confirmation link whose signature the edge checked; raises BadLink."""
    uow = run()
    with uow:
        rec = uow.form_submissions.get(submission_id)
        if rec is None or rec.nonce != nonce:
            raise BadLink("this confirmation link is not valid")
        if rec.status is PendingStatus.DIRECT:
            return ConfirmResult(Outcome.ALREADY, rec.form_key, rec.id)
        _, outcome = confirm_pending(rec.pending(), now)
        if outcome is not Outcome.CONFIRMED:
            return ConfirmResult(outcome, rec.form_key, rec.id)
        if not uow.form_submissions.set_status(rec.id, PendingStatus.PENDING, PendingStatus.CONFIRMED,
                                               confirmed_at=now):
            return ConfirmResult(Outcome.ALREADY, rec.form_key, rec.id)  # a concurrent click won
        events = _grant(uow, rec, visitor, now)
        uow.events.append_changes(events, now)
        uow.commit()
        return ConfirmResult(Outcome.CONFIRMED, rec.form_key, rec.id)


def _grant(uow: FormsUnitOfWork, rec: SubmissionRecord, visitor: Visitor, now: datetime) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for box in rec.consents:
        proof = {"form": rec.form_key, "submission_id": rec.id, "text": box["text"],
                 "submitted_at": rec.submitted_at.isoformat(), "ip": rec.ip, "user_agent": rec.user_agent,
                 "page_url": rec.page_url, "double_opt_in": True, "confirmed_at": now.isoformat(),
                 "confirmed_ip": visitor.ip, "confirmed_user_agent": _clip(visitor.user_agent, 500)}
        events += set_consent(uow, rec.contact_id, box["channel"], "granted", now, source=SOURCE, proof=proof)
    props = {"form": rec.form_key, "submission_id": rec.id, "channels": [b["channel"] for b in rec.consents]}
    events.append(change_event(rec.contact_id, "form.confirmed", props, now, SOURCE))
    return events
