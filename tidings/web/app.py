"""The web app marketers use, mounted on the API's FastAPI app by ``install(app)``.

Server-rendered pages (Jinja2, autoescaped) with htmx for live parts and Chart.js for charts,
both vendored under ``static/vendor`` (nothing comes from a CDN). Routes are split by page.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tidings.web import (
    audiences_page,
    audit,
    auth,
    builder,
    campaigns,
    contacts,
    contacts_edit,
    contacts_import,
    control_page,
    dashboard,
    dead_letters_page,
    exports_page,
    forms_page,
    forms_public,
    inbox,
    journey_simulate,
    journeys,
    measurement,
    plan_page,
    privacy_page,
    reports,
    scoring_page,
    segments,
    settings_page,
    sources_page,
    tasks_page,
    template_visual,
    templates_page,
    uncertain_page,
)
from tidings.web.core import STATIC_DIR, PageNotFound, is_htmx, localised, render, templates
from tidings.web.i18n import _
from tidings.web.inbox import sandboxed_html
from tidings.web.security import Forbidden, LoginRequired, SecurityHeaders, login_url

#: the page modules, each with its ``router``.
PAGES = (
    auth, builder, dashboard, contacts_import, contacts_edit, exports_page, contacts, audiences_page, segments, audit,
    reports, journey_simulate,
    journeys, template_visual, templates_page, inbox, tasks_page, dead_letters_page, control_page, uncertain_page,
    measurement, campaigns, settings_page, scoring_page, sources_page, privacy_page, forms_page,
    forms_public, plan_page,
)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    templates.env.globals["rule_vocabulary"] = builder.rule_vocabulary()  # the rule builder's selects
    for module in PAGES:
        app.include_router(module.router, include_in_schema=False)
    app.add_middleware(SecurityHeaders)

    # plain def: Starlette runs them in the thread pool (the error pages load the session)
    @app.exception_handler(LoginRequired)
    def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = login_url(exc.next_url)
        if request.headers.get("sec-fetch-dest") == "iframe":
            # a preview frame cannot show the login page (it is never framed): say so in the frame
            message = escape(localised(request, _("Your session has ended: reload the page to log in again.")))
            resp = sandboxed_html(f"<p>{message}</p>")
            resp.status_code = 401
            return resp
        if is_htmx(request):
            return HTMLResponse("", headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", {"title": _("Not allowed"), "message": exc.message}, status=403)

    @app.exception_handler(PageNotFound)
    def _not_found(request: Request, exc: PageNotFound) -> Response:
        return render(
            request,
            "error.html",
            {"title": _("Not found"), "message": _("%(what)s does not exist.", what=exc.what)},
            status=404,
        )
