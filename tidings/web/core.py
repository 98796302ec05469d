"""Rendering: one Jinja2 environment (autoescape on for everything) and the page helper.

htmx requests may ask for one block of a page (jinja2-fragments), so a page and its live
partial are one template.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, Undefined
from jinja2_fragments.fastapi import Jinja2Blocks

from tidings.api.routing import StrictRoute
from tidings.application.access.users import Session
from tidings.web.security import container, current_session

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

NAV = [
    ("dashboard", "/", "Dashboard"),
    ("contacts", "/contacts", "Contacts"),
    ("segments", "/segments", "Segments"),
    ("journeys", "/journeys", "Journeys"),
    ("campaigns", "/campaigns", "Campaigns"),
    ("map", "/journeys/map", "Journey map"),
    ("experiments", "/experiments", "Experiments"),
    ("goals", "/goals", "Goals"),
    ("scoring", "/scoring", "Scoring"),
    ("audit", "/audit", "Audit"),
    ("templates", "/templates", "Templates"),
    ("inbox", "/inbox", "Inbox"),
    ("tasks", "/tasks", "Tasks"),
    ("dead-letters", "/dead-letters", "Dead letters"),
    ("control", "/control", "Control"),
    ("uncertain", "/messages/uncertain", "Uncertain"),
    ("sources", "/sources", "Sources"),
]


def _dt(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime(fmt)
        except ValueError:
            return value
    return value.strftime(fmt)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "0"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _delta(now: float, before: float) -> str:
    if not before:
        return "new" if now else "–"
    pct = (now - before) / before * 100
    return f"{pct:+.0f}%"


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
    # until the gettext catalogues are installed per request these render the source text.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(dt=_dt, pretty=_pretty, num=_num, delta=_delta)
    env.globals["nav"] = NAV
    return env


templates = Jinja2Blocks(env=_build_env())


class PageNotFound(Exception):
    """Raised by a page handler: renders the HTML 404 page."""

    def __init__(self, what: str) -> None:
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
    if block:
        return templates.TemplateResponse(request, name, ctx, status_code=status, block_name=block)
    return templates.TemplateResponse(request, name, ctx, status_code=status)
