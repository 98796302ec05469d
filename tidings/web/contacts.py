"""Pages: contacts — search and filter, a profile with everything we know and have done, and for
each message the "why" (journey, version, step, trigger, condition values) from the traces."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.application.access.users import Session
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import CONSENT_STATUSES
from tidings.store import web_reads_sql as queries
from tidings.web.contacts_edit import CONSENT_TEXT
from tidings.web.core import PageNotFound, WebRoute, is_htmx, render
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@router.get("/contacts")
def contacts_page(request: Request, session: Session = Viewer) -> Response:
    p = request.query_params
    f = {
        "q": p.get("q", "")[:200],
        "tag": p.get("tag", ""),
        "segment": p.get("segment", ""),
        "stage": p.get("stage", ""),
        "journey": p.get("journey", "")[:100],
        "step": p.get("step", "")[:100],
    }
    page = _int(p.get("page"))
    c = container(request)
    with c.engine.connect() as conn:
        rows, more = queries.search_contacts(conn, page=page, **f)
        options = queries.filter_options(conn)
    ctx = {"rows": rows, "more": more, "f": f, "pg": page, "options": options, "notice": p.get("notice", "")[:200]}
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "contacts.html", ctx, block="results")
    return render(request, "contacts.html", ctx, page="contacts")


@router.get("/contacts/{contact_id}")
def contact_page(contact_id: int, request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        contact = queries.contact(conn, contact_id)
        if contact is None:
            raise PageNotFound(f"Contact {contact_id}")
        profile = queries.contact_profile(conn, contact_id)
        items = queries.timeline(conn, contact_id)
    ctx = {
        "c": contact,
        "p": profile,
        "items": items,
        "consent_channels": CONSENT_CHANNELS,
        "consent_statuses": CONSENT_STATUSES,
        "consent_text": CONSENT_TEXT,
    }
    return render(request, "contact.html", ctx, page="contacts")


@router.get("/contacts/{contact_id}/why/{outbox_id}")
def why(contact_id: int, outbox_id: int, request: Request, session: Session = Viewer) -> Response:
    from tidings.application.journeys.why import WhyNotFound
    from tidings.application.journeys.why import why as explain_message
    from tidings.store.traces_sql import SqlMessageTraces

    c = container(request)
    with c.engine.connect() as conn:
        contact = queries.contact(conn, contact_id)
        try:
            data = explain_message(SqlMessageTraces(conn), contact_id, outbox_id)["message"]
        except WhyNotFound as exc:
            raise PageNotFound(f"Message {outbox_id} of contact {contact_id}") from exc
        journey = queries.journey_name(conn, data.get("journey"))
    ctx = {"m": data, "c": contact, "journey": journey}
    if is_htmx(request):
        return render(request, "why.html", ctx, block="why")
    return render(request, "why.html", ctx, page="contacts")
