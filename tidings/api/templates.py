"""HTTP routes: templates (CRUD per locale variant), preview for a contact, send a test."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.delivery import templates as svc
from tidings.domain.channels import TemplateChannelName
from tidings.domain.contacts import InvalidValue, normalise_email
from tidings.domain.templates import TemplateError, TemplateSource
from tidings.store.sql_uow import joined

router = APIRouter(prefix="/api/templates", tags=["templates"], route_class=StrictRoute)


class TemplateIn(BaseModel):
    locale: str = Field(default="", max_length=35, description='"" is the default variant')
    channel: TemplateChannelName = "email"
    name: str = Field(default="", max_length=200)
    subject: str | None = None
    body: str = Field(max_length=1_000_000)
    format: Literal["html", "mjml", "text"] = "html"
    text_body: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="from, reply_to, topic, tracking...")


class PreviewIn(BaseModel):
    contact_id: int | None = None
    locale: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class SendTestIn(PreviewIn):
    to: str = Field(description="address the test goes to")

    @field_validator("to")
    @classmethod
    def _an_email_address(cls, value: str) -> str:
        try:
            return normalise_email(value)
        except InvalidValue as exc:
            raise ValueError(str(exc)) from None


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: row[k]
        for k in (
            "id",
            "key",
            "locale",
            "channel",
            "name",
            "subject",
            "body",
            "format",
            "text_body",
            "settings",
            "created_at",
            "updated_at",
        )
    }


def template_problem(exc: TemplateError) -> ApiError:
    detail = {"loc": ["body", exc.field], "msg": exc.message, "line": exc.line}
    return ApiError(422, "template_error", str(exc), [detail])


@router.get("", dependencies=[RequireRead])
def list_templates(request: Request, channel: str | None = None) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        return {"items": [_out(r) for r in svc.list_templates(joined(conn), channel)]}


@router.get("/{key}", dependencies=[RequireRead])
def get_template(key: str, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        variants = [_out(r) for r in svc.list_templates(joined(conn)) if r["key"] == key]
    if not variants:
        raise ApiError(404, "not_found", f"template {key!r} not found")
    return {"key": key, "variants": variants}


@router.put("/{key}", dependencies=[RequireWrite])
def put_template(key: str, body: TemplateIn, request: Request) -> dict[str, Any]:
    """Create or replace one locale variant; syntax errors are refused with their line."""
    c = container(request)
    src = TemplateSource(
        key=key,
        channel=body.channel,
        locale=body.locale,
        subject=body.subject,
        body=body.body,
        format=body.format,
        text_body=body.text_body,
        settings=body.settings,
    )
    try:
        with c.engine.begin() as conn:
            return _out(svc.save_template(joined(conn), src, c.clock.now(), name=body.name))
    except svc.TemplateInvalid as exc:
        details = [{"loc": ["path" if p.field == "key" else "body", p.field], "msg": p.message, "line": p.line}
                   for p in exc.problems]
        raise ApiError(422, "template_error", str(exc), details) from None


@router.delete("/{key}", dependencies=[RequireWrite], status_code=204)
def delete_template(key: str, request: Request, locale: str | None = Query(default=None)) -> Response:
    with container(request).engine.begin() as conn:
        if not svc.delete_template(joined(conn), key, locale):
            raise ApiError(404, "not_found", f"template {key!r} not found")
    return Response(status_code=204)


def _preview(request: Request, key: str, body: PreviewIn) -> dict[str, Any]:
    c = container(request)
    try:
        with c.engine.connect() as conn:
            return svc.preview(
                joined(conn),
                key,
                contact_id=body.contact_id,
                locale=body.locale,
                public_url=c.settings.public_url,
                data=body.data,
            )
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc.args[0])) from None
    except TemplateError as exc:
        raise template_problem(exc) from None


@router.post("/{key}/preview", dependencies=[RequireRead])
def preview(key: str, body: PreviewIn, request: Request) -> dict[str, Any]:
    """The message as this contact would get it (tracking links are added at sending time)."""
    return _preview(request, key, body)


@router.post("/{key}/send-test", dependencies=[RequireWrite])
async def send_test(key: str, body: SendTestIn, request: Request) -> dict[str, Any]:
    """Render for a contact and send to ``to`` through the configured email provider (the inbox
    by default). Consent does not apply: the address is the operator's own."""
    import asyncio

    from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test

    rendered = await asyncio.to_thread(_preview, request, key, body)
    provider = await asyncio.to_thread(container(request).email_provider)  # may read the DKIM key file
    try:
        sent = await send_test(provider, rendered, key=key, to=body.to, contact_id=body.contact_id)
    except NotEmail as exc:
        raise ApiError(
            422,
            "not_email",
            "send-test sends emails; preview other channels instead",
            [{"loc": ["path", "key"], "msg": f"template channel is {exc.channel}"}],
        ) from None
    except SendTestRefused as exc:
        raise ApiError(502, "send_failed", str(exc)) from None
    return {"status": "sent", "message_ref": sent.message_ref, "to": body.to, "provider": sent.provider}
