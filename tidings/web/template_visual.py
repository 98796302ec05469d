"""Page: the drag-and-drop email editor (GrapesJS 0.23.6 with its MJML preset grapesjs-mjml
1.0.8, vendored under ``static/vendor``) beside the code view of a template. It saves through
the code view's form (``POST /templates``), so the template model and its validation are the
same; MJML templates are edited as MJML, HTML templates as HTML (+ their CSS). A picker inserts
personalisation (contact fields, attributes seen on contacts, journey variables)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.application.access.users import Session
from tidings.application.contacts import contacts as contacts_svc
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import Writer, container
from tidings.web.templates_page import template_values

router = APIRouter(route_class=WebRoute)

#: the editor inserts and restyles markup in its canvas: inline styles, images from anywhere;
#: scripts stay our own files only.
EDITOR_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: http: https:; "
    "font-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SAMPLE = 200


def personalisation(request: Request) -> list[tuple[str, str]]:
    """(label, placeholder) pairs: contact fields, attribute keys of recent contacts, variables."""
    with container(request).engine.connect() as conn:
        sample, _ = contacts_svc.list_contacts(joined(conn), contacts_svc.ContactFilter(), limit=SAMPLE)
    keys = sorted({k for c in sample for k in c["attributes"] if isinstance(k, str) and k.isidentifier()})
    out = [(f"contact.{f}", "{{ contact." + f + " }}") for f in PROFILE_FIELDS]
    out += [(f"attribute {k}", "{{ contact.attributes." + k + " }}") for k in keys]
    out.append(("unsubscribe link", "{{ message.unsubscribe_url }}"))
    return out


@router.get("/templates/{key}/visual")
def visual_editor(key: str, request: Request, session: Session = Writer) -> Response:
    values = template_values(request, key)
    if values["channel"] != "email" or values["format"] not in ("mjml", "html"):
        raise PageNotFound(f"A visual editor for {values['channel']} / {values['format']} templates")
    response = render(
        request, "template_visual.html", {"v": values, "picker": personalisation(request)}, page="templates"
    )
    response.headers["content-security-policy"] = EDITOR_CSP
    return response
