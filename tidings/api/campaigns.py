"""HTTP routes: campaigns (broadcasts): create, edit, approve, schedule, send a test, cancel, report."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireAdmin, RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.access.keys import ApiKey
from tidings.application.campaigns import campaigns as svc
from tidings.domain.campaigns.model import CampaignError, StateError
from tidings.store.analytics import SqlAnalytics
from tidings.store.sql_uow import joined

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], route_class=StrictRoute)


class ScheduleIn(BaseModel):
    kind: Literal["now", "at", "local"] = "now"
    at: datetime | None = Field(default=None, description='"at": the instant (with a time zone)')
    date: str | None = Field(default=None, max_length=10, description='"local": YYYY-MM-DD')
    time: str | None = Field(default=None, max_length=8, description='"local": HH:MM on each contact\'s clock')


class ThrottleIn(BaseModel):
    max: int = Field(ge=1, le=10_000_000, description="messages per window")
    per: Literal["minute", "hour"] = "minute"


class ABIn(BaseModel):
    test_share: float = Field(default=0.2, gt=0, le=1, description="share of the audience in the test")
    winner_after_hours: float = Field(default=4, gt=0, le=720)
    metric: Literal["opens", "clicks"] = Field(default="opens", description="opens: human opens only")


class CampaignBody(BaseModel):
    name: str = Field(default="", max_length=200)
    segment: str = Field(max_length=100)
    template: str = Field(max_length=200)
    channel: Literal["email", "sms"] = "email"
    subjects: list[str] = Field(default_factory=list, max_length=10,
                                description="one subject, or 2..10 for an A/B subject test")
    schedule: ScheduleIn = Field(default_factory=ScheduleIn)
    throttle: ThrottleIn | None = None
    ab: ABIn | None = None


class CampaignIn(CampaignBody):
    key: str = Field(max_length=100)


class SendTestIn(BaseModel):
    to: str = Field(max_length=320, description="address the test goes to")
    contact_id: int | None = Field(default=None, description="render for this contact")


def _doc(body: CampaignBody) -> dict[str, Any]:
    return body.model_dump(mode="python")


def problem(exc: CampaignError) -> ApiError:
    if isinstance(exc, StateError):
        return ApiError(409, "conflict", str(exc), [{"loc": ["body", "status"], "msg": str(exc)}])
    details = [{"loc": ["body", *p.split(".")], "msg": m} for p, m in exc.problems]
    return ApiError(422, "validation_error", str(exc), details)


def _write(request: Request, action: Any) -> dict[str, Any]:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            row = action(joined(conn), c.clock.now())
            return svc.show(joined(conn), row["key"])
    except svc.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except CampaignError as exc:
        raise problem(exc) from None


@router.get("", dependencies=[RequireRead])
def list_campaigns(request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return {"items": [svc.public(r) for r in svc.listing(joined(conn))]}


@router.get("/audience", dependencies=[RequireRead])
def audience(request: Request, segment: str = Query(max_length=100)) -> dict[str, Any]:
    """How many contacts the segment holds now (the audience before approval)."""
    with container(request).engine.connect() as conn:
        return {"segment": segment, "count": svc.audience_size(joined(conn), segment)}


@router.post("", status_code=201)
def create_campaign(body: CampaignIn, request: Request, key: ApiKey = RequireWrite) -> dict[str, Any]:
    """A new draft; approve it, then schedule it."""
    return _write(request, lambda uow, now: svc.create(uow, _doc(body), now, by=f"key:{key.name}"))


@router.get("/{key}", dependencies=[RequireRead])
def get_campaign(key: str, request: Request) -> dict[str, Any]:
    """The campaign, its progress (queued / sent / failed / skipped) and its A/B variants."""
    try:
        with container(request).engine.connect() as conn:
            return svc.show(joined(conn), key)
    except svc.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.put("/{key}", dependencies=[RequireWrite])
def edit_campaign(key: str, body: CampaignBody, request: Request) -> dict[str, Any]:
    """Replace a draft's or an approved campaign's document: an approval is dropped."""
    return _write(request, lambda uow, now: svc.edit(uow, key, _doc(body), now))


@router.post("/{key}/approve")
def approve_campaign(key: str, request: Request, api_key: ApiKey = RequireAdmin) -> dict[str, Any]:
    """Approval needs the admin scope; who and when are recorded."""
    return _write(request, lambda uow, now: svc.approve(uow, key, now, by=f"key:{api_key.name}"))


@router.post("/{key}/schedule", dependencies=[RequireWrite])
def schedule_campaign(key: str, request: Request) -> dict[str, Any]:
    """An approved campaign starts at its schedule (now, a fixed time, or a local time)."""
    return _write(request, lambda uow, now: svc.schedule(uow, key, now))


@router.post("/{key}/cancel", dependencies=[RequireWrite])
def cancel_campaign(key: str, request: Request) -> dict[str, Any]:
    return _write(request, lambda uow, now: svc.cancel(uow, key, now))


def _renders(request: Request, key: str, body: SendTestIn) -> list[tuple[str, dict[str, Any]]]:
    from tidings.api.templates import template_problem
    from tidings.domain.templates import TemplateError

    c = container(request)
    try:
        with c.engine.connect() as conn:
            return svc.test_renders(joined(conn), key, contact_id=body.contact_id, public_url=c.settings.public_url)
    except svc.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc.args[0])) from None
    except TemplateError as exc:
        raise template_problem(exc) from None


@router.post("/{key}/send-test", dependencies=[RequireWrite])
async def send_test(key: str, body: SendTestIn, request: Request) -> dict[str, Any]:
    """One test email per subject to ``to`` (the templates' send-test path; consent does not apply)."""
    from tidings.application.delivery.send_test import NotEmail, SendTestRefused
    from tidings.application.delivery.send_test import send_test as send_one

    renders = await asyncio.to_thread(_renders, request, key, body)
    sent = []
    for variant, rendered in renders:
        provider = await asyncio.to_thread(container(request).email_provider)
        try:
            one = await send_one(provider, rendered, key=rendered["key"], to=body.to, contact_id=body.contact_id)
        except NotEmail as exc:
            raise ApiError(422, "not_email", "send-test sends emails", [{"loc": ["path", "key"], "msg": str(exc)}]
                           ) from None
        except SendTestRefused as exc:
            raise ApiError(502, "send_failed", str(exc)) from None
        sent.append({"variant": variant, "subject": rendered["subject"], "message_ref": one.message_ref})
    return {"status": "sent", "to": body.to, "messages": sent}


@router.get("/{key}/report", dependencies=[RequireRead])
def campaign_report(key: str, request: Request) -> dict[str, Any]:
    """Progress and A/B variants, with the analytics rollups of the campaign: sent, delivered,
    human opens, clicks, unsubscribes, conversions, revenue (``/api/analytics/campaigns/{key}``)."""
    c = container(request)
    try:
        with c.engine.connect() as conn:
            return svc.report(joined(conn), SqlAnalytics(conn), key)
    except svc.CampaignNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
