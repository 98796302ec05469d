"""Rendering: one Jinja2 environment (autoescape on for everything) and the page helper.

htmx requests may ask for one block of a page (jinja2-fragments), so a page and its live
partial are one template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, Undefined
from jinja2_fragments.fastapi import Jinja2Blocks

from tidings.api.routing import StrictRoute
from tidings.application.access.users import Session
from tidings.web import i18n
from tidings.web.i18n import _
from tidings.web.security import container, current_session

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

NAV = [
    ("dashboard", "/", _("Dashboard")),
    ("contacts", "/contacts", _("Contacts")),
    ("segments", "/segments", _("Segments")),
    ("journeys", "/journeys", _("Journeys")),
    ("campaigns", "/campaigns", _("Campaigns")),
    ("map", "/journeys/map", _("Journey map")),
    ("experiments", "/experiments", _("Experiments")),
    ("goals", "/goals", _("Goals")),
    ("scoring", "/scoring", _("Scoring")),
    ("audit", "/audit", _("Audit")),
    ("templates", "/templates", _("Templates")),
    ("inbox", "/inbox", _("Inbox")),
    ("tasks", "/tasks", _("Tasks")),
    ("dead-letters", "/dead-letters", _("Dead letters")),
    ("control", "/control", _("Control")),
    ("uncertain", "/messages/uncertain", _("Uncertain")),
    ("sources", "/sources", _("Sources")),
    ("forms", "/forms", _("Forms")),
    ("content-plan", "/content-plan", _("Content plan")),
]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every template, whatever its extension
        undefined=Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # Every user-visible string in a template is written `{{ _("…") }}` or `{% trans %}`;
    # they are translated in the viewer's language of the request being rendered (web/i18n.py).
    i18n.install(env)
    env.filters.update(pretty=_pretty)
    env.globals["nav"] = NAV
    return env


templates = Jinja2Blocks(env=_build_env())


class PageNotFound(Exception):
    """Raised by a page handler: renders the HTML 404 page."""

    def __init__(self, what: i18n.Text) -> None:
        super().__init__(what)
        self.what = what


class WebRoute(StrictRoute):
    """The route class of the web pages: the API's edge rules; a refused path or query
    parameter (an id outside 64-bit, a NUL character) renders the 404 page."""

    def refuse_param(self, where: str, name: str, message: str) -> Exception:
        if where == "form":
            return super().refuse_param(where, name, message)
        return PageNotFound(f"{where} parameter {name!r} ({message})")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def viewer_locale(request: Request) -> i18n.ViewerLocale:
    """The language and time zone this request is shown in: the user's setting, else the
    browser's ``Accept-Language`` (and UTC)."""
    session = current_session(request)
    user = session.user if session else None
    return i18n.viewer_for(
        user.locale if user else None, user.timezone if user else None, request.headers.get("accept-language")
    )


def localised(request: Request, text: i18n.Text) -> str:
    """``text`` in the request's language now (for a notice carried in a redirect's URL)."""
    with i18n.viewing_as(viewer_locale(request)):
        return str(text)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    block: str | None = None,
    page: str = "",
) -> Response:
    """Render a page (or one block of it for htmx) with the session and CSRF token in context."""
    ctx: dict[str, Any] = dict(context or {})
    session: Session | None = current_session(request)
    c = container(request)
    ctx.setdefault("session", session)
    ctx.setdefault("user", session.user if session else None)
    ctx.setdefault("csrf_token", session.csrf_token if session else "")
    ctx.setdefault("page", page)
    ctx.setdefault("now", c.clock.now())
    ctx.setdefault("test_clock", c.manual_clock is not None)
    viewer = viewer_locale(request)
    ctx.setdefault("viewer", viewer)
    # the response renders in its constructor: the whole render sees this request's viewer
    with i18n.viewing_as(viewer):
        if block:
            return templates.TemplateResponse(request, name, ctx, status_code=status, block_name=block)
        return templates.TemplateResponse(request, name, ctx, status_code=status)
