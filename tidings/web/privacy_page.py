"""Pages: a contact's personal data as a zip (the button on the contact page, marketers and
admins, as the other actions on a contact) and the Retention section of /settings (admins):
the policy form, a dry run showing counts, the log (docs/privacy.md)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.privacy import retention
from tidings.application.privacy.data_export import UnknownContact, export_spool, file_chunks
from tidings.domain.retention import KINDS, InvalidPolicy
from tidings.store.data_export_sql import SqlDataExport
from tidings.store.db import read_only
from tidings.store.retention_sql import retention_sessions
from tidings.web import settings_page
from tidings.web.core import PageNotFound, WebRoute, localised
from tidings.web.i18n import _
from tidings.web.security import Admin, FormFields, Writer, container

router = APIRouter(route_class=WebRoute)


@router.get("/contacts/{contact_id}/data-export.zip")
def download_personal_data(contact_id: int, request: Request, session: Session = Writer) -> Response:
    c = container(request)
    try:
        with read_only(c.engine.connect()) as conn:
            spool = export_spool(SqlDataExport(conn), contact_id, c.clock.now(), by=f"web:{session.user.email}")
    except UnknownContact:
        raise PageNotFound(f"Contact {contact_id}") from None
    return StreamingResponse(file_chunks(spool), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="contact-{contact_id}-personal-data.zip"'})


def _days(form: FormData) -> dict[str, int | None]:
    """The form's fields: an empty field is off; anything but whole days is refused by the domain."""
    out: dict[str, int | None] = {}
    for kind in KINDS:
        text = str(form.get(kind, "")).strip()
        if not text:
            out[kind] = None
        elif text.isdigit():
            out[kind] = int(text)
        else:
            raise InvalidPolicy(kind, "days must be a whole number or null (off)")
    return out


@router.post("/settings/retention")
def save_retention(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    c = container(request)
    try:
        retention.save_policy(retention_sessions(c.engine), _days(form), c.clock.now())
    except InvalidPolicy as exc:
        return settings_page.page(request, error=str(exc), status=422)
    notice = localised(request, _("Retention policy saved."))
    return RedirectResponse("/settings?" + urlencode({"notice": notice}) + "#retention", status_code=303)


@router.post("/settings/retention/dry-run")
def dry_run(request: Request, session: Session = Admin) -> Response:
    c = container(request)
    report = retention.run_retention(
        retention_sessions(c.engine), c.clock, actor=f"web:{session.user.email}", dry_run=True
    )
    return settings_page.page(request, retention_dry_run=report.counts)
