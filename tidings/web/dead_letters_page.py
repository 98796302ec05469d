"""Page: dead letters — deliveries and webhooks that used up their attempts and were set aside.

Everyone may look (as ``GET /api/dead-letters`` allows any read key); only admins retry (back to
the outbox, due now, fresh attempts: ``services.dead_letters.retry``) or discard
(``services.dead_letters.discard``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tidings.application.access.users import Session
from tidings.application.delivery import dead_letters as service
from tidings.store import page_reads_sql
from tidings.store.db import Connection
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, localised, render
from tidings.web.i18n import _
from tidings.web.security import Admin, Viewer, container

router = APIRouter(route_class=WebRoute)


def target_of(item: dict[str, Any]) -> str:
    """Where it was going: the recipient, or a webhook's host and path (never its query or headers)."""
    payload = item.get("payload") or {}
    if item.get("kind") == "webhook" or item.get("channel") == "webhook":
        url = str(payload.get("url") or "")
        parts = urlsplit(url)
        return f"{payload.get('method') or 'POST'} {parts.scheme}://{parts.netloc}{parts.path}" if url else ""
    if item.get("kind") == "crm":  # the CRM and what was asked of it (never its token)
        return f"{payload.get('system') or item.get('recipient') or ''}: {payload.get('action') or ''}"
    return str(item.get("recipient") or payload.get("to") or "")


def _state(item: dict[str, Any]) -> str:
    if item.get("discarded_at"):
        return "discarded"
    if item.get("retried_at"):
        return "retried"
    return "dead"


def _enrich(conn: Connection, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    contact_ids = {int(i["contact_id"]) for i in items}
    journey_ids = {int(i["journey_id"]) for i in items if i.get("journey_id")}
    contacts = {}
    if contact_ids:
        for r in page_reads_sql.contact_labels_rows(conn, contact_ids):
            name = " ".join(x for x in (r["first_name"], r["last_name"]) if x)
            contacts[int(r["id"])] = name or r["email"] or r["phone"] or f"#{r['id']}"
    journeys = {}
    if journey_ids:
        journeys = page_reads_sql.journey_names(conn, journey_ids)
    out = []
    for i in items:
        jkey, jname = journeys.get(int(i["journey_id"] or 0), (None, None))
        out.append(
            i
            | {
                "contact_label": contacts.get(int(i["contact_id"])),
                "journey_key": jkey,
                "journey_name": jname,
                "target": target_of(i),
                "state": _state(i),
            }
        )
    return out


@router.get("/dead-letters")
def dead_letters_page(request: Request, session: Session = Viewer) -> Response:
    show_all = request.query_params.get("show") == "all"
    c = container(request)
    with c.engine.connect() as conn:
        items = _enrich(conn, service.list_dead_letters(joined(conn), include_retried=show_all, limit=500))
    return render(
        request,
        "dead_letters.html",
        {"rows": items, "show_all": show_all, "notice": request.query_params.get("notice", "")},
        page="dead-letters",
    )


def _act(request: Request, dead_letter_id: int, action: str) -> Response:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            if action == "retry":
                service.retry(joined(conn), dead_letter_id, c.clock.now())
                notice = _("Dead letter %(id)s is back in the outbox: it will be sent again now.", id=dead_letter_id)
            else:
                service.discard(joined(conn), dead_letter_id, c.clock.now())
                notice = _("Dead letter %(id)s discarded.", id=dead_letter_id)
    except service.DeadLetterError as exc:
        if "no dead letter" in str(exc):
            raise PageNotFound(_("Dead letter %(id)s", id=dead_letter_id)) from None
        notice = _("Nothing done: %(reason)s.", reason=str(exc))
    return RedirectResponse("/dead-letters?" + urlencode({"notice": localised(request, notice)}), status_code=303)


@router.post("/dead-letters/{dead_letter_id}/retry")
def retry(dead_letter_id: int, request: Request, session: Session = Admin) -> Response:
    return _act(request, dead_letter_id, "retry")


@router.post("/dead-letters/{dead_letter_id}/discard")
def discard(dead_letter_id: int, request: Request, session: Session = Admin) -> Response:
    return _act(request, dead_letter_id, "discard")
