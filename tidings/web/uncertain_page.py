"""Page: uncertain messages — handed to a provider that cannot say whether it got them.

Everyone may look (as ``GET /api/messages/uncertain`` allows any read key); only admins decide, for
the ticked messages or all of them: mark as sent, or resend (``application.delivery.uncertain.resolve``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.delivery import uncertain as service
from tidings.store.uncertain import SqlUncertainMessages
from tidings.web.core import WebRoute, localised, render
from tidings.web.i18n import Text, _
from tidings.web.security import Admin, FormFields, Viewer, container

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
def decide(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    action = str(form.get("action") or "")
    everything = form.get("scope") == "all"
    try:
        ids = [int(str(v)) for v in form.getlist("ids")]
    except ValueError:
        ids = []
    c = container(request)
    if action not in service.ACTIONS:
        notice: Text = _("Nothing done: choose mark as sent or resend.")
    elif not everything and not ids:
        notice = _("Nothing done: tick the messages to decide for (or choose all).")
    else:
        with c.engine.begin() as conn:
            result = service.resolve(SqlUncertainMessages(conn), action, None if everything else ids, c.clock.now())
        done = (
            _("%(count)s message(s) marked as sent.", count=len(result.done))
            if action == service.MARK_SENT
            else _("%(count)s message(s) queued to be sent again.", count=len(result.done))
        )
        notice = done
        if result.skipped:
            notice = _(
                "%(done)s %(count)s were no longer uncertain and were left alone.",
                done=done,
                count=len(result.skipped),
            )
    return RedirectResponse("/messages/uncertain?" + urlencode({"notice": localised(request, notice)}), status_code=303)
