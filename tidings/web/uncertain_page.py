"""Page: uncertain messages — handed to a provider that cannot say whether it got them.

Everyone may look (as ``GET /api/messages/uncertain`` allows any read key); only admins decide, for
the ticked messages or all of them: mark as sent, or resend (``application.delivery.uncertain.resolve``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tidings.application.access.users import Session
from tidings.application.delivery import uncertain as service
from tidings.store.uncertain import SqlUncertainMessages
from tidings.web.core import WebRoute, render
from tidings.web.security import Admin, Viewer, container

router = APIRouter(route_class=WebRoute)


@router.get("/messages/uncertain")
def uncertain_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        repo = SqlUncertainMessages(conn)
        rows = service.list_uncertain(repo, c.clock.now())
        total = repo.count_uncertain()
    return render(
        request,
        "uncertain.html",
        {"rows": rows, "total": total, "warnings": service.WARNINGS, "notice": request.query_params.get("notice", "")},
        page="uncertain",
    )


@router.post("/messages/uncertain")
async def decide(request: Request, session: Session = Admin) -> Response:
    form = await request.form()
    action = str(form.get("action") or "")
    everything = form.get("scope") == "all"
    try:
        ids = [int(str(v)) for v in form.getlist("ids")]
    except ValueError:
        ids = []
    c = container(request)
    if action not in service.ACTIONS:
        notice = "Nothing done: choose mark as sent or resend."
    elif not everything and not ids:
        notice = "Nothing done: tick the messages to decide for (or choose all)."
    else:
        with c.engine.begin() as conn:
            result = service.resolve(SqlUncertainMessages(conn), action, None if everything else ids, c.clock.now())
        what = "marked as sent" if action == service.MARK_SENT else "queued to be sent again"
        notice = f"{len(result.done)} message(s) {what}."
        if result.skipped:
            notice += f" {len(result.skipped)} were no longer uncertain and were left alone."
    return RedirectResponse("/messages/uncertain?" + urlencode({"notice": notice}), status_code=303)
