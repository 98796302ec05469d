"""The double opt-in emails and the forms pass of the worker: confirm, remind once, expire.

A pass (``FormsPass.run_once``, every second in the worker) takes the pending submissions that
have something due: the confirmation email not sent yet, the one reminder, or the expiry. A mail
is claimed (its ``*_at`` column set in a committed update) before it is sent, so two workers never
send it twice; a provider failure releases the claim and the next pass retries. The email goes
through the configured email provider as a transactional message (SMTP, or the built-in catcher),
with the signed link; its text is the form's template (``confirmation_template``, rendered with
``data.confirm_url``) or the built-in one.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tidings.application.background import PollingService
from tidings.application.delivery.templates import preview
from tidings.application.ports.clock import Clock
from tidings.application.ports.forms import ConfirmationLinks, FormsUnitOfWork, SubmissionRecord
from tidings.application.ports.senders import EMAIL, TRANSACTIONAL, ChannelProvider, OutgoingMessage
from tidings.domain.forms.model import FormDefinition
from tidings.domain.forms.pending import Action, PendingStatus, due_action

log = logging.getLogger("tidings.forms")
CONFIRMATION, REMINDER = "confirmation", "reminder"


@dataclass(frozen=True)
class PassResult:
    sent: int = 0
    reminded: int = 0
    expired: int = 0
    failed: int = 0


def confirmation_message(
    uow: FormsUnitOfWork, form: FormDefinition, rec: SubmissionRecord, url: str, *, mail: str, public_url: str,
) -> OutgoingMessage:
    """The email of ``mail`` (confirmation | reminder) for a submission."""
    ref = f"form.{rec.id}.{mail}@tidings.localhost"
    if form.confirmation_template:
        out = preview(uow, form.confirmation_template, contact_id=rec.contact_id, locale=None,
                      public_url=public_url, data={"confirm_url": url, "form": form.key, "reminder": mail == REMINDER})
        subject, body_html, text = out["subject"], out["html"], out["text"]
    else:
        lead = "Reminder: please" if mail == REMINDER else "Please"
        subject = f"{'Reminder: ' if mail == REMINDER else ''}Confirm your subscription to {form.name}"
        text = (f"{lead} confirm your subscription to {form.name} by opening this link:\n\n{url}\n\n"
                "If you did not ask for it, ignore this email: nothing will be sent to you.")
        body_html = (f"<p>{html.escape(lead)} confirm your subscription to {html.escape(form.name)}.</p>"
                     f'<p><a href="{html.escape(url)}">Confirm my subscription</a></p>'
                     "<p>If you did not ask for it, ignore this email: nothing will be sent to you.</p>")
    return OutgoingMessage(outbox_id=0, channel=EMAIL, contact_id=rec.contact_id, recipient=rec.email,
                           idempotency_key=ref, message_ref=ref, category=TRANSACTIONAL, subject=subject,
                           html=body_html, text=text, template=form.confirmation_template or None,
                           data={"form": form.key, "submission_id": rec.id, "mail": mail})


def run_pass(
    uow_factory: Callable[[], FormsUnitOfWork], provider_factory: Callable[[], ChannelProvider],
    links: ConfirmationLinks, now: datetime, *, public_url: str, limit: int = 200,
) -> PassResult:
    """One pass over the due pending submissions."""
    with uow_factory() as uow:
        due = uow.form_submissions.due(now, limit)
    if not due:
        return PassResult()
    sent = reminded = expired = failed = 0
    outgoing: list[tuple[SubmissionRecord, str, OutgoingMessage]] = []
    for rec in due:
        uow = uow_factory()
        with uow:
            form = uow.forms.get(rec.form_key)
            action = due_action(rec.pending(), now)
            if action is Action.EXPIRE or form is None:
                if uow.form_submissions.set_status(rec.id, PendingStatus.PENDING, PendingStatus.EXPIRED):
                    expired += 1
                uow.commit()
                continue
            mail = CONFIRMATION if rec.confirmation_sent_at is None else REMINDER
            if mail == REMINDER and action is not Action.REMIND:
                continue
            if not uow.form_submissions.claim_mail(rec.id, mail, now):
                continue  # another worker has it
            assert rec.expires_at is not None  # a pending submission has an expiry
            url = links.confirm_url(rec.id, rec.nonce, rec.expires_at, now)
            try:
                message = confirmation_message(uow, form.definition, rec, url, mail=mail, public_url=public_url)
            except Exception:
                log.exception("form %s: the %s email of submission %d cannot be rendered", rec.form_key, mail, rec.id)
                failed += 1
                continue  # not committed: the claim is dropped, the next pass tries again
            uow.commit()
        outgoing.append((rec, mail, message))
    results = asyncio.run(_send_all(provider_factory, [m for _, _, m in outgoing])) if outgoing else []
    for (rec, mail, _), ok in zip(outgoing, results, strict=True):
        if ok:
            sent += mail == CONFIRMATION
            reminded += mail == REMINDER
            continue
        failed += 1
        with uow_factory() as uow:
            uow.form_submissions.release_mail(rec.id, mail)
            uow.commit()
    result = PassResult(sent, reminded, expired, failed)
    log.info("forms pass: %s", result)
    return result


async def _send_all(provider_factory: Callable[[], ChannelProvider], messages: list[OutgoingMessage]) -> list[bool]:
    provider = provider_factory()
    oks: list[bool] = []
    try:
        for msg in messages:
            try:
                result = await provider.send(msg)
            except Exception:
                log.exception("form confirmation to contact %d failed", msg.contact_id)
                oks.append(False)
                continue
            if not result.ok:
                log.warning("form confirmation to contact %d refused: %s", msg.contact_id, result.error)
            oks.append(result.ok)
    finally:
        await provider.aclose()
    return oks


class FormsPass(PollingService):
    """The worker's forms service: ``run_pass`` every ``every`` seconds on the injected clock."""

    name = "forms"

    def __init__(
        self, uow_factory: Callable[[], FormsUnitOfWork], provider_factory: Callable[[], ChannelProvider],
        links: ConfirmationLinks, clock: Clock, *, public_url: str, every: float = 1.0,
    ) -> None:
        super().__init__()
        self.uow_factory = uow_factory
        self.provider_factory = provider_factory
        self.links = links
        self.clock = clock
        self.public_url = public_url
        self.every = every

    def run_once(self) -> PassResult:
        return run_pass(self.uow_factory, self.provider_factory, self.links, self.clock.now(),
                        public_url=self.public_url)
