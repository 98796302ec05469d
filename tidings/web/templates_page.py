"""Pages: message templates — list, editor with field errors, preview for a chosen contact and
locale in a sandboxed iframe, and "send a test" to the built-in inbox.

(Named ``templates_page`` so it is not confused with the ``templates/`` folder of Jinja files.)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import escape
from starlette.datastructures import FormData

from tidings.application.access.users import Session, UserError, normalise_email
from tidings.application.delivery import templates as svc
from tidings.domain.channels import TEMPLATE_CHANNELS
from tidings.domain.templates import TemplateError, TemplateSource
from tidings.store import page_reads_sql
from tidings.store.db import Connection
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, is_htmx, render
from tidings.web.inbox import TEXT_STYLE, sandboxed_html
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

FORMATS = ("html", "mjml", "text")
FIELDS = ("key", "locale", "channel", "name", "subject", "format", "body", "text_body")
SUBJECT_STYLE = "font:13px system-ui;color:#555;border-bottom:1px solid #ddd;padding:6px 4px;margin-bottom:8px"
STARTER = {
    "key": "",
    "locale": "",
    "channel": "email",
    "name": "",
    "format": "html",
    "subject": "Hello {{ contact.first_name or 'there' }}",
    "body": "<h1>Hello {{ contact.first_name or 'there' }}!</h1>\n<p>Thanks for joining.</p>\n"
    '<p><a href="https://example.com/start">Get started</a></p>\n'
    '<p><a href="{{ message.unsubscribe_url }}">Unsubscribe</a></p>\n',
    "text_body": "",
}


def _contacts_for_preview(conn: Connection) -> list[dict[str, Any]]:
    return page_reads_sql.preview_contacts(conn)


@router.get("/templates")
def templates_list(request: Request, session: Session = Viewer) -> Response:
    with container(request).engine.connect() as conn:
        rows = svc.list_templates(joined(conn))
    return render(request, "templates_list.html", {"rows": rows}, page="templates")


@router.get("/templates/new")
def template_new(request: Request, session: Session = Writer) -> Response:
    return _editor(request, dict(STARTER), {}, new=True)


def _editor(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    new: bool,
    status: int = 200,
    notice: str = "",
) -> Response:
    with container(request).engine.connect() as conn:
        contacts = _contacts_for_preview(conn)
        locales = page_reads_sql.template_locales(conn, values.get("key", "")) if values.get("key") else []
    return render(
        request,
        "template_edit.html",
        {
            "v": values,
            "errors": errors,
            "new": new,
            "contacts": contacts,
            "locales": locales,
            "channels": TEMPLATE_CHANNELS,
            "formats": FORMATS,
            "notice": notice,
            "to": session_email(request),
        },
        status=status,
        page="templates",
    )


def session_email(request: Request) -> str:
    sess = request.state.web_session
    return sess.user.email if sess else ""


def template_values(request: Request, key: str) -> dict[str, Any]:
    """The stored template ``key`` in the ``locale`` of the query, as the editor's form values."""
    locale = request.query_params.get("locale", "")
    with container(request).engine.connect() as conn:
        row = svc.get_row(joined(conn), key, locale)
    if row is None:
        raise PageNotFound(f"Template {key!r} ({locale or 'default locale'})")
    return {k: row.get(k) or "" for k in FIELDS}


@router.get("/templates/{key}")
def template_edit(key: str, request: Request, session: Session = Viewer) -> Response:
    values = template_values(request, key)
    return _editor(request, values, {}, new=False, notice=request.query_params.get("notice", ""))


@router.post("/templates")
def template_save(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = {k: str(form.get(k, "")) for k in FIELDS}
    values["key"] = values["key"].strip()
    values["locale"] = values["locale"].strip()
    new = form.get("new") == "1"
    errors: dict[str, str] = {}
    if not values["key"] or len(values["key"]) > 200 or any(ch.isspace() or ch in "/?#" for ch in values["key"]):
        errors["key"] = "a key is required: letters, digits, - _ . (no spaces or slashes)"
    if values["channel"] not in TEMPLATE_CHANNELS:
        errors["channel"] = f"choose one of {', '.join(TEMPLATE_CHANNELS)}"
    if values["format"] not in FORMATS:
        errors["format"] = f"choose one of {', '.join(FORMATS)}"
    if not values["body"].strip():
        errors["body"] = "the body is required"
    if not errors:
        src = TemplateSource(
            key=values["key"],
            channel=values["channel"],
            locale=values["locale"],
            subject=values["subject"] or None,
            body=values["body"],
            format=values["format"],
            text_body=values["text_body"] or None,
            settings={},
        )
        c = container(request)
        try:
            with c.engine.begin() as conn:
                svc.save_template(joined(conn), src, c.clock.now(), name=values["name"])
        except svc.TemplateInvalid as exc:
            for p in exc.problems:
                errors.setdefault(p.field, f"line {p.line}: {p.message}" if p.line else p.message)
    if errors:
        return _editor(request, values, errors, new=new, status=422)
    from urllib.parse import quote

    return RedirectResponse(
        f"/templates/{quote(values['key'])}?locale={quote(values['locale'])}&notice=saved", status_code=303
    )


def _preview(request: Request, key: str) -> dict[str, Any]:
    p = request.query_params
    contact_id: int | None
    try:
        contact_id = int(p.get("contact") or 0) or None
    except ValueError:
        contact_id = None
    locale = p.get("locale") or None
    c = container(request)
    with c.engine.connect() as conn:
        return svc.preview(joined(conn), key, contact_id=contact_id, locale=locale, public_url=c.settings.public_url)


@router.get("/templates/{key}/preview")
def preview_panel(key: str, request: Request, session: Session = Viewer) -> Response:
    """The preview panel (htmx): subject, sandboxed frame, text part — or the error."""
    error = ""
    out: dict[str, Any] | None = None
    try:
        out = _preview(request, key)
    except LookupError as exc:
        error = str(exc.args[0])
    except TemplateError as exc:
        error = str(exc)
    ctx = {"key": key, "out": out, "error": error, "q": request.url.query}
    return (
        render(request, "template_edit.html", ctx, block="preview")
        if is_htmx(request)
        else render(request, "template_preview.html", ctx, page="templates")
    )


@router.get("/templates/{key}/preview.html")
def preview_html(key: str, request: Request, session: Session = Viewer) -> Response:
    """The rendered message alone, for the sandboxed iframe (CSP sandbox, no scripts)."""
    try:
        out = _preview(request, key)
    except (LookupError, TemplateError) as exc:
        return sandboxed_html(f"<p>{escape(str(exc))}</p>")
    if out.get("html"):
        return sandboxed_html(str(out["html"]))
    return sandboxed_html(f"<pre style='{TEXT_STYLE}'>{escape(out.get('text') or '')}</pre>")


@router.post("/templates/preview-draft")
def preview_draft(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """The editor's unsaved content rendered for a contact, straight into the sandboxed preview
    frame (the editor form targets the frame). Renders only; saves nothing."""
    from tidings.domain.templates import contact_context, validate
    from tidings.domain.templates import render as render_template

    values = {k: str(form.get(k, "")) for k in FIELDS}
    src = TemplateSource(
        key=values["key"] or "draft",
        channel=values["channel"] or "email",
        locale=values["locale"],
        subject=values["subject"] or None,
        body=values["body"],
        format=values["format"] if values["format"] in FORMATS else "html",
        text_body=values["text_body"] or None,
        settings={},
    )
    problems = validate(src)
    if problems:
        return sandboxed_html("".join(f"<p>{escape(str(p))}</p>" for p in problems))
    contact: dict[str, Any] = {}
    tags: list[str] = []
    try:
        contact_id = int(str(form.get("preview_contact") or 0)) or None
    except ValueError:
        contact_id = None
    c = container(request)
    if contact_id is not None:
        with c.engine.connect() as conn:
            contact, tags = page_reads_sql.contact_with_tags(conn, contact_id)
    base = c.settings.public_url
    message = {
        "id": 0,
        "unsubscribe_url": f"{base}/u/preview",
        "preferences_url": f"{base}/p/preview",
        "self_service_url": f"{base}/s/preview",
        "signal_url": lambda name: f"{base}/s/preview/{name}",
    }
    try:
        out = render_template(src, {"contact": contact_context(contact, tags), "data": {}, "message": message})
    except TemplateError as exc:
        return sandboxed_html(f"<p>{escape(str(exc))}</p>")
    head = f"<div style='{SUBJECT_STYLE}'>Subject: {escape(out.subject or '')}</div>" if out.subject else ""
    if out.html:
        return sandboxed_html(head + out.html)
    return sandboxed_html(head + f"<pre style='{TEXT_STYLE}'>{escape(out.text)}</pre>")


@router.post("/templates/{key}/test")
async def send_test(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    """Render for the chosen contact and send to the given address through the email provider
    (the built-in inbox unless TIDINGS_SMTP_URL is set)."""
    import asyncio
    from urllib.parse import quote

    from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test

    locale = str(form.get("locale", ""))
    back = f"/templates/{quote(key)}?locale={quote(locale)}"
    try:
        to = normalise_email(str(form.get("to", "")))
    except UserError as exc:
        return RedirectResponse(f"{back}&notice={quote('test not sent: ' + str(exc))}", status_code=303)
    request.scope["query_string"] = f"contact={form.get('contact', '')}&locale={locale}".encode()
    try:
        out = await asyncio.to_thread(_preview, request, key)
    except (LookupError, TemplateError) as exc:
        return RedirectResponse(f"{back}&notice={quote('test not sent: ' + str(exc))}", status_code=303)
    provider = await asyncio.to_thread(container(request).email_provider)  # may read the DKIM key file
    try:
        chosen = str(form.get("contact", "")).strip()
        await send_test(provider, out, key=key, to=to, contact_id=int(chosen) if chosen.isdigit() else None)
    except NotEmail:
        notice = "only email templates can be sent as a test"
    except SendTestRefused as exc:
        notice = str(exc)
    else:
        notice = f"test sent to {to}: see the inbox"
    return RedirectResponse(f"{back}&notice={quote(notice)}", status_code=303)
