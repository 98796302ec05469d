"""HTTP routes: bounce and complaint notifications in; sending domains (paused or not) out.

- ``POST /api/webhooks/ses``: Amazon SES notifications delivered by SNS (signature checked,
  SubscriptionConfirmation confirmed). Subscribe the SNS topic to ``<public url>/api/webhooks/ses``.
- ``POST /api/webhooks/bounces``: any provider, signed like our own webhooks
  (``X-Tidings-Timestamp``, ``X-Tidings-Signature`` with ``TIDINGS_BOUNCE_WEBHOOK_SECRET``).
- ``GET /api/sending-domains``, ``POST /api/sending-domains/{domain}/resume``.

Malformed or forged notifications are rejected with a 4xx and logged; nothing is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request

from tidings.api.deps import RequireAdmin, RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.bootstrap import Container
from tidings.channels import bounces
from tidings.channels.bounces import COMPLAINT, HARD, SOFT, Feedback, FeedbackResult, Limits
from tidings.channels.sns import SnsError, SnsForged, SnsVerifier, ses_feedback
from tidings.channels.webhooks import verify
from tidings.domain import jsonvalues
from tidings.store.sql_uow import joined

router = APIRouter(tags=["bounces"], route_class=StrictRoute)
log = logging.getLogger("tidings.api.bounces")


def _verifier(c: Container) -> SnsVerifier:
    return c.sns_verifier


def _reject(status: int, code: str, message: str, loc: list[str], client: str) -> ApiError:
    log.warning("bounce notification rejected from %s: %s", client, message)
    return ApiError(status, code, message, [{"loc": loc, "msg": message}])


def _record(c: Container, items: list[Feedback]) -> FeedbackResult:
    with c.engine.begin() as conn:
        return bounces.record_feedback(joined(conn), items, c.clock.now(), Limits.from_settings(c.settings))


def _summary(result: FeedbackResult) -> dict[str, Any]:
    return {
        "recorded": result.recorded,
        "duplicates": result.duplicates,
        "unmatched": result.unmatched,
        "suppressed": result.suppressed,
        "paused_domains": result.paused_domains,
    }


@router.post("/api/webhooks/ses")
async def ses_via_sns(request: Request) -> dict[str, Any]:
    c = container(request)
    client = request.client.host if request.client else "?"
    try:
        message = jsonvalues.loads(await request.body())
    except ValueError:
        raise _reject(400, "bad_request", "body is not JSON", ["body"], client) from None
    if not isinstance(message, dict):
        raise _reject(400, "bad_request", "body is not an SNS message object", ["body"], client)
    topics = c.settings.ses_topic_arns
    if not topics:
        raise _reject(404, "not_found", "the SES endpoint is off: set TIDINGS_SES_TOPIC_ARNS", ["path"], client)
    if "*" not in topics and message.get("TopicArn") not in topics:
        # a valid SNS signature proves SNS sent it, not that it is OUR topic: anyone can make a topic.
        raise _reject(
            403,
            "forbidden",
            f"TopicArn {message.get('TopicArn')!r} is not in TIDINGS_SES_TOPIC_ARNS",
            ["body", "TopicArn"],
            client,
        )
    verifier = _verifier(c)
    try:
        await asyncio.to_thread(verifier.verify, message)
    except SnsError as exc:
        raise _reject(
            401 if isinstance(exc, SnsForged) else 400,
            "unauthorized" if isinstance(exc, SnsForged) else "invalid_notification",
            str(exc),
            ["body"],
            client,
        ) from None
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        try:
            await asyncio.to_thread(verifier.confirm_subscription, message)
        except SnsError as exc:
            raise _reject(400, "invalid_notification", str(exc), ["body", "SubscribeURL"], client) from None
        except Exception as exc:
            log.warning("SNS subscription confirmation failed: %s", exc)
            raise ApiError(502, "confirmation_failed", f"could not confirm the subscription: {exc}") from None
        log.info("SNS subscription confirmed for %s", message.get("TopicArn"))
        return {"subscription": "confirmed", "topic": message.get("TopicArn")}
    if kind == "UnsubscribeConfirmation":
        return {"subscription": "unsubscribed", "topic": message.get("TopicArn")}
    try:
        items = ses_feedback(str(message["MessageId"]), str(message["Message"]))
    except SnsError as exc:
        raise _reject(400, "invalid_notification", str(exc), ["body", "Message"], client) from None
    return _summary(await asyncio.to_thread(_record, c, items))


KIND_OF = {("bounce", "hard"): HARD, ("bounce", "soft"): SOFT, ("complaint", None): COMPLAINT}


def _generic_item(raw: Any, index: int) -> Feedback:
    def bad(field: str, msg: str) -> ApiError:
        return ApiError(
            422,
            "validation_error",
            f"events.{index}.{field}: {msg}",
            [{"loc": ["body", "events", str(index), field], "msg": msg}],
        )

    if not isinstance(raw, dict):
        raise bad("type", "each event must be an object")
    kind_name = raw.get("type")
    if kind_name not in {"bounce", "complaint"}:
        raise bad("type", "must be 'bounce' or 'complaint'")
    bounce_type = raw.get("bounce_type", "hard") if kind_name == "bounce" else None
    if kind_name == "bounce" and bounce_type not in {"hard", "soft"}:
        raise bad("bounce_type", "must be 'hard' or 'soft'")
    email = raw.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise bad("email", "an email address is required")
    return Feedback(
        KIND_OF[(kind_name, bounce_type)],
        email,
        "webhook",
        ref=str(raw["id"]) if raw.get("id") is not None else None,
        message_ref=str(raw["message_id"]) if raw.get("message_id") else None,
        sending_domain=str(raw["sending_domain"]).lower() if raw.get("sending_domain") else None,
        detail={k: raw[k] for k in ("reason", "diagnostic", "provider") if k in raw},
    )


@router.post("/api/webhooks/bounces")
async def generic_bounces(request: Request) -> dict[str, Any]:
    c = container(request)
    client = request.client.host if request.client else "?"
    secret = c.settings.bounce_webhook_secret
    if not secret:
        raise _reject(
            404,
            "not_found",
            "the generic bounce webhook is off: set TIDINGS_BOUNCE_WEBHOOK_SECRET",
            ["path"],
            client,
        )
    body = await request.body()
    if not verify(
        secret,
        request.headers.get("x-tidings-timestamp", ""),
        body,
        request.headers.get("x-tidings-signature", ""),
        c.clock.now(),
    ):
        raise _reject(
            401,
            "unauthorized",
            "missing, stale or invalid X-Tidings-Signature",
            ["header", "X-Tidings-Signature"],
            client,
        )
    try:
        data = jsonvalues.loads(body)
    except ValueError:
        raise _reject(400, "bad_request", "body is not JSON", ["body"], client) from None
    raw_items = data.get("events") if isinstance(data, dict) and "events" in data else [data]
    if not isinstance(raw_items, list) or not raw_items:
        raise _reject(422, "validation_error", "events: a non-empty list is required", ["body", "events"], client)
    try:
        items = [_generic_item(raw, i) for i, raw in enumerate(raw_items)]
    except ApiError as exc:
        log.warning("bounce notification rejected from %s: %s", client, exc.message)
        raise
    return _summary(await asyncio.to_thread(_record, c, items))


@router.get("/api/sending-domains", dependencies=[RequireRead])
def sending_domains(request: Request) -> dict[str, Any]:
    c = container(request)
    limits = Limits.from_settings(c.settings)
    with c.engine.connect() as conn:
        uow = joined(conn)
        items = bounces.list_domains(uow)
        for item in items:
            item["rates"] = bounces.domain_rates(uow, item["domain"], c.clock.now(), limits)
    return {"items": items, "limits": limits.__dict__}


@router.post("/api/sending-domains/{domain}/resume", dependencies=[RequireAdmin])
def resume(request: Request, domain: str) -> dict[str, Any]:
    c = container(request)
    with c.engine.begin() as conn:
        if not bounces.resume_domain(joined(conn), domain, c.clock.now()):
            raise ApiError(
                404,
                "not_found",
                f"sending domain {domain!r} is not paused",
                [{"loc": ["path", "domain"], "msg": "not paused"}],
            )
    return {"domain": domain.lower(), "status": "active"}
