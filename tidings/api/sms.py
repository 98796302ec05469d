"""HTTP routes: inbound SMS from a Twilio-compatible provider (STOP/START/HELP keywords).

Point the number's "a message comes in" webhook at ``<public url>/api/webhooks/sms/inbound``.
When an auth token is configured, ``X-Twilio-Signature`` must be valid (403 otherwise).
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response

from tidings.api.deps import container
from tidings.api.errors import ApiError
from tidings.application.ingest.sms_inbound import handle_inbound, handle_status
from tidings.channels.twilio import valid_signature

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("tidings.api.sms")


async def _signed_form(request: Request) -> dict[str, str]:
    """The form fields, after checking X-Twilio-Signature when an auth token is configured."""
    c = container(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    token = c.settings.twilio_auth_token
    if token:
        signature = request.headers.get("x-twilio-signature", "")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        urls = [c.settings.public_url + path, str(request.url)]
        if not signature or not valid_signature(token, urls, form, signature):
            log.warning("Twilio webhook refused: bad or missing X-Twilio-Signature (%s)", request.url.path)
            raise ApiError(
                403,
                "forbidden",
                "invalid X-Twilio-Signature",
                [{"loc": ["header", "X-Twilio-Signature"], "msg": "signature does not match"}],
            )
    return form


@router.post("/api/webhooks/sms/status")
@router.post("/api/webhooks/voice/status")
async def delivery_status(request: Request, ref: str = "") -> dict[str, object]:
    """Twilio status callbacks (the providers add ``?ref=<our message id>``)."""
    c = container(request)
    form = await _signed_form(request)
    channel = "voice" if "/voice/" in request.url.path else "sms"
    with c.engine.begin() as conn:
        event = handle_status(conn, channel, ref, form, c.clock.now())
    return {"event": event}


@router.post("/api/webhooks/sms/inbound")
async def sms_inbound(request: Request) -> Response:
    c = container(request)
    form = await _signed_form(request)
    if not form.get("From"):
        raise ApiError(
            422,
            "validation_error",
            "From: field required",
            [{"loc": ["body", "From"], "msg": "field required"}],
        )
    with c.engine.begin() as conn:
        result = handle_inbound(conn, form, c.clock.now())
    message = f"<Message>{escape(result.reply)}</Message>" if result.reply else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>', media_type="application/xml"
    )
