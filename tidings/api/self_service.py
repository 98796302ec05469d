"""The contact's self-service pages, reached from links in journey messages.

``/s/{token}`` (``message.self_service_url``) shows one enrolment: the next dates of its series
and, when the journey takes ``reschedule``, a form to move them. ``/s/{token}/{signal}``
(``message.signal_url('stop')``) sends one signal the journey handles — ``stop``,
``skip-one``, ``pause``, a journey's own — after the contact confirms: GET only shows the
question (mail scanners follow links), the POST sends it. The signed token is the capability;
a tampered one gets a 404 page and changes nothing, an expired one 410. After a change the page
shows the series' new dates.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from tidings.api.deps import FormFields, container
from tidings.api.links import page, token_error
from tidings.api.routing import StrictRoute
from tidings.application.journeys.engine import EngineError
from tidings.application.journeys.signals import self_service_view, send_signal
from tidings.channels import tracking

router = APIRouter(tags=["links"], route_class=StrictRoute)

RESCHEDULE = "reschedule"
#: what the confirmation page asks for the signals every journey may take.
QUESTIONS = {
    "stop": ("Stop these messages?", "Stop"),
    "skip-one": ("Skip the next one?", "Skip the next one"),
    "pause": ("Pause these messages?", "Pause"),
    "resume": ("Start these messages again?", "Resume"),
    RESCHEDULE: ("Change your dates", "Reschedule"),
}
INVALID = "<p>This link is not valid. Nothing was changed.</p>"


def _dates(view: dict[str, Any]) -> str:
    days: list[datetime] = view["upcoming"]
    if not view["running"]:
        return "<p>These messages have ended: nothing more is planned.</p>"
    if not days:
        return ""
    try:
        items = "".join(f"<li>{html.escape(format_date(d.date(), 'full', locale=view['locale']))}</li>" for d in days)
    except ValueError:  # a contact locale Babel does not know: dates in English
        items = "".join(f"<li>{html.escape(format_date(d.date(), 'full', locale='en'))}</li>" for d in days)
    return f"<p>Your next dates:</p><ul id='upcoming'>{items}</ul>"


def _date_field(data: dict[str, Any], form: FormData) -> str | None:
    """The form's start date into ``data``; an error message when it is not a date."""
    raw = str(form.get("start_date") or "")
    if raw:
        try:
            data["start_date"] = date.fromisoformat(raw).isoformat()
        except ValueError:
            return "The date must look like 2026-05-31."
    return None


def _view_of_self_service(request: Request, token: str) -> tuple[tracking.Token, dict[str, Any]] | HTMLResponse:
    c = container(request)
    try:
        tok = tracking.read_token(c.secret_key, token, tracking.SELF_SERVICE, c.clock.now())
    except tracking.BadToken as exc:
        return token_error(exc)
    view = self_service_view(c, tok.a)
    if view is None or view["contact_id"] != tok.b:
        return page("Link not valid", INVALID, 404)
    return tok, view


@router.get("/s/{token}", include_in_schema=False)
def self_service(token: str, request: Request) -> HTMLResponse:
    found = _view_of_self_service(request, token)
    if isinstance(found, HTMLResponse):
        return found
    _, view = found
    form = ""
    if view["running"] and RESCHEDULE in view["signals"]:
        action = html.escape(f"/s/{token}", quote=True)
        form = (
            f"<form method='post' action='{action}'><label>New start date "
            "<input type='date' name='start_date' required></label> "
            f"<input type='hidden' name='signal' value='{RESCHEDULE}'>"
            "<button type='submit'>Reschedule</button></form>"
        )
    return page("Your messages" if not form else "Change your dates", _dates(view) + form)


@router.post("/s/{token}", include_in_schema=False)
def self_service_submit(token: str, request: Request, form: FormData = FormFields) -> HTMLResponse:
    found = _view_of_self_service(request, token)
    if isinstance(found, HTMLResponse):
        return found
    tok, _ = found
    data: dict[str, Any] = {}
    if (bad := _date_field(data, form)) is not None:
        return page("Not saved", f"<p>{bad}</p>", 422)
    return _send(request, tok.a, str(form.get("signal") or RESCHEDULE), data)


def _signal_view(request: Request, token: str, name: str) -> tracking.Token | HTMLResponse:
    c = container(request)
    try:
        tok = tracking.read_token(c.secret_key, token, tracking.SIGNAL, c.clock.now())
    except tracking.BadToken as exc:
        return token_error(exc)
    if tok.b != tracking.signal_tag(name):
        return page("Link not valid", INVALID, 404)
    return tok


@router.get("/s/{token}/{name}", include_in_schema=False)
def signal_page(token: str, name: str, request: Request) -> HTMLResponse:
    tok = _signal_view(request, token, name)
    if isinstance(tok, HTMLResponse):
        return tok
    view = self_service_view(container(request), tok.a)
    if view is None or name not in view["signals"]:
        return page("Link not valid", INVALID, 404)
    if not view["running"]:
        return page("Nothing to change", _dates(view))
    title, button = QUESTIONS.get(name, (f"Confirm: {name}", "Confirm"))
    field = (
        "<label>New start date <input type='date' name='start_date' required></label> " if name == RESCHEDULE else ""
    )
    action = html.escape(f"/s/{token}/{name}", quote=True)
    body = f"<form method='post' action='{action}'>{field}<button type='submit'>{html.escape(button)}</button></form>"
    return page(title, _dates(view) + body)


@router.post("/s/{token}/{name}", include_in_schema=False)
def signal_submit(token: str, name: str, request: Request, form: FormData = FormFields) -> HTMLResponse:
    tok = _signal_view(request, token, name)
    if isinstance(tok, HTMLResponse):
        return tok
    data: dict[str, Any] = {}
    if (bad := _date_field(data, form)) is not None:
        return page("Not saved", f"<p>{bad}</p>", 422)
    return _send(request, tok.a, name, data)


def _send(request: Request, enrollment_id: int, name: str, data: dict[str, Any]) -> HTMLResponse:
    c = container(request)
    view = self_service_view(c, enrollment_id)
    if view is None:
        return page("Link not valid", INVALID, 404)
    if name not in view["signals"]:
        return page("Not saved", "<p>These messages do not take that change.</p>", 422)
    try:
        send_signal(c, enrollment_id, name, data)
    except EngineError as exc:
        return page("Not saved", f"<p>{html.escape(str(exc))}</p>", 422)
    after = self_service_view(c, enrollment_id) or view
    return page("Thank you", "<p>Your change has been recorded.</p>" + _dates(after))
