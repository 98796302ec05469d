"""Page: Control — open alerts (acknowledge), the kill switch (pause/resume with what is held),
the global send policy (edit as YAML). Everyone may look; only admins act."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.control import alerts as al
from tidings.application.control import policies as pol
from tidings.application.control import sending as snd
from tidings.domain.channels import DELIVERY_CHANNELS
from tidings.domain.control.policy import PolicyError
from tidings.store.control import SqlControl
from tidings.web.core import PageNotFound, WebRoute, localised, render
from tidings.web.i18n import Text, _
from tidings.web.security import Admin, FormFields, Viewer, container

router = APIRouter(route_class=WebRoute)


def banner(request: Request) -> dict[str, Any]:
    """What the dashboard banner shows: open alerts and the kill switch."""
    with container(request).engine.connect() as conn:
        return {"alerts": al.list_alerts(SqlControl(conn))[:5], "sending": snd.status(SqlControl(conn))}


def _back(request: Request, notice: Text, error: str = "") -> Response:
    q = {"notice": localised(request, notice)} if not error else {"error": error}
    return RedirectResponse("/control?" + urlencode(q), status_code=303)


@router.get("/control")
def control_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        ctx = {
            "alerts": al.list_alerts(SqlControl(conn), include_acknowledged=request.query_params.get("show") == "all"),
            "sending": snd.status(SqlControl(conn)),
            "policy": pol.show(SqlControl(conn)),
            "channels": DELIVERY_CHANNELS,
            "notice": request.query_params.get("notice", ""),
            "error": request.query_params.get("error", ""),
        }
    return render(request, "control.html", ctx, page="control")


@router.post("/control/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, request: Request, session: Session = Admin) -> Response:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            al.acknowledge(SqlControl(conn), alert_id, session.user.email, c.clock.now())
    except al.AlertNotFound:
        raise PageNotFound(f"Alert {alert_id}") from None
    back = urlsplit(request.headers.get("referer") or "").path  # the dashboard banner, or this page
    return RedirectResponse("/" if back == "/" else "/control", status_code=303)


@router.post("/control/sending/pause")
def pause(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    channel = str(form.get("channel") or "") or None
    c = container(request)
    try:
        with c.engine.begin() as conn:
            snd.pause(SqlControl(conn), c.clock.now(), channel=channel, by=session.user.email)
    except snd.SendingError as exc:
        return _back(request, "", str(exc))
    paused = _("Sending paused (%(channel)s): messages wait in the outbox.", channel=channel or _("all channels"))
    return _back(request, paused)


@router.post("/control/sending/resume")
def resume(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    channel = str(form.get("channel") or "") or None
    c = container(request)
    try:
        with c.engine.begin() as conn:
            r = snd.resume(SqlControl(conn), c.clock.now(), channel=channel, by=session.user.email)
    except snd.SendingError as exc:
        return _back(request, "", str(exc))
    return _back(request,
        _(
            "Sending resumed (%(channel)s): %(count)s held message(s) go out now.",
            channel=channel or _("all channels"),
            count=r["released_total"],
        )
    )


@router.post("/control/policy")
def save_policy(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    text = str(form.get("source") or "")
    c = container(request)
    try:
        with c.engine.begin() as conn:
            pol.save(SqlControl(conn), pol.parse_text(text), c.clock.now(), by=session.user.email, source=text)
    except PolicyError as exc:
        return _back(request, "", "; ".join(f"{p or 'policy'}: {m}" for p, m in exc.problems))
    return _back(request, _("Send policy saved."))
