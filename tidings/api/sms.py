"""HTTP routes: inbound SMS from a Twilio-compatible provider (STOP/START/HELP keywords).

Point the number's "a message comes in" webhook at ``<public url>/api/webhooks/sms/inbound``.
Every webhook here (inbound SMS, SMS and voice status) needs a valid ``X-Twilio-Signature``
made with ``TIDINGS_TWILIO_AUTH_TOKEN``: anything else is refused with 401, including every call
when no token is configured. ``TIDINGS_INSECURE_UNSIGNED_WEBHOOKS=1`` (development only) accepts
unsigned calls, with a warning in the log for each. Status callbacks name the message by a
signed ``ref`` (``twilio.status_ref``): a forged or guessed ref changes nothing.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

from tidings.api.deps import FormFields, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.ingest.sms_inbound import handle_inbound, handle_status
from tidings.channels.twilio import signature_problem, status_outbox_id

router = APIRouter(tags=["webhooks"], route_class=StrictRoute)
log = logging.getLogger("tidings.api.sms")


def _signed_form(request: Request, posted: FormData = FormFields) -> dict[str, str]:
    """The form fields, once X-Twilio-Signature verifies (401 otherwise)."""
    c = container(request)
    fields = [(k, str(v)) for k, v in posted.multi_items()]
    form = dict(fields)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    problem = signature_problem(
        c.settings.twilio_auth_token,
        [c.settings.public_url + path, str(request.url)],
        fields,
        request.headers.get("x-twilio-signature", ""),
    )
    if problem is None:
        return form
    client = request.client.host if request.client else "?"
    if c.settings.insecure_unsigned_webhooks:
        log.warning(
            "INSECURE: accepted an unverified webhook %s from %s (%s) because "
            "TIDINGS_INSECURE_UNSIGNED_WEBHOOKS is on; never run like this in production",
            request.url.path,
            client,
            problem,
        )
        return form
    log.warning("Twilio webhook refused from %s: %s (%s)", client, problem, request.url.path)
    raise ApiError(
        401,
        "unauthorized",
        problem,
        [{"loc": ["header", "X-Twilio-Signature"], "msg": problem}],
    )


SignedForm = Depends(_signed_form)


@router.post("/api/webhooks/sms/status")
@router.post("/api/webhooks/voice/status")
def delivery_status(request: Request, ref: str = "", form: dict[str, str] = SignedForm) -> dict[str, object]:
    """Twilio status callbacks (the providers add ``?ref=<signed ref of our message>``)."""
    c = container(request)
    channel = "voice" if "/voice/" in request.url.path else "sms"
    now = c.clock.now()
    outbox_id = status_outbox_id(c.secret_key, ref, now)
    if outbox_id is None:
        log.warning("status callback with a forged, unknown or expired ref ignored (%s)", request.url.path)
    with c.uow() as uow:
        event = handle_status(uow, channel, outbox_id, form, now)
        uow.commit()
    return {"event": event}


@router.post("/api/webhooks/sms/inbound")
def sms_inbound(request: Request, form: dict[str, str] = SignedForm) -> Response:
    c = container(request)
    if not form.get("From"):
        raise ApiError(
            422,
            "validation_error",
            "From: field required",
            [{"loc": ["body", "From"], "msg": "field required"}],
        )
    with c.uow() as uow:
        result = handle_inbound(uow, form, c.clock.now())
        uow.commit()
    message = f"<Message>{escape(result.reply)}</Message>" if result.reply else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>', media_type="application/xml"
    )
