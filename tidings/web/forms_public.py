"""Public form pages: the hosted form, its submission, the embed script, the double opt-in link.

No login and no CSRF token (a visitor has no session): a submission is accepted only from our
own pages or from an origin the form lists (``allowed_origins``, which also get CORS), and it goes
through the honeypot and the rate limit (``Container.form_gate``). The confirmation link is a
signed token (``channels/tracking.FORM_CONFIRM``): GET shows a page with a button and changes
nothing (mail scanners follow links), POST confirms. A tampered link gets 400, an expired one
410 with a link back to the form; neither stores anything. Pages are in the form's language
when the UI has it, else the browser's, right-to-left for Arabic; the strict CSP of every web
page applies (no inline script or style).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tidings.application.delivery.templates import preview
from tidings.application.forms import submit as use
from tidings.application.forms.forms import UnknownForm, get_form
from tidings.channels import tracking
from tidings.domain.forms.model import HONEYPOT, FormDefinition
from tidings.domain.forms.pending import Outcome
from tidings.domain.forms.submission import SubmissionInvalid
from tidings.domain.templates import TemplateError
from tidings.web import i18n
from tidings.web.core import STATIC_DIR, WebRoute, templates
from tidings.web.i18n import _
from tidings.web.inbox import sandboxed_html
from tidings.web.security import container

router = APIRouter(route_class=WebRoute)
log = logging.getLogger("tidings.forms")
EMBED_JS = Path(STATIC_DIR) / "forms-embed.js"
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Robots-Tag": "noindex"}
MAX_VALUES = 100


def _viewer(request: Request, form: FormDefinition | None) -> i18n.ViewerLocale:
    return i18n.viewer_for(form.locale if form and form.locale else None, None, request.headers.get("accept-language"))


def _page(request: Request, mode: str, *, form: FormDefinition | None = None, status: int = 200,
          **context: Any) -> Response:
    viewer = _viewer(request, form)
    ctx = {"mode": mode, "form": form, "viewer": viewer, "honeypot": HONEYPOT, "errors": {}, "values": {},
           "page_url": "", "referrer": "", **context}
    with i18n.viewing_as(viewer):
        response = templates.TemplateResponse(request, "form_public.html", ctx, status_code=status)
    response.headers.update(NO_STORE)
    return response


def _load(request: Request, key: str) -> FormDefinition | None:
    try:
        return get_form(container(request).uow(read_only=True), key).definition
    except UnknownForm:
        return None


def _origin_ok(request: Request, form: FormDefinition) -> tuple[bool, str | None]:
    """(may post, the origin to answer CORS for). Our own origin and the form's listed ones may post."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return True, None
    own = urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    if own:
        return True, None
    listed = origin.lower().rstrip("/") in form.allowed_origins
    return listed, origin if listed else None


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


async def _values(request: Request) -> dict[str, Any]:
    """The posted fields: a form-encoded body (the hosted page) or a JSON object (the embed)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return {"__invalid__": "a JSON object of field values is expected"}
        return dict(list(body.items())[:MAX_VALUES])
    form = await request.form()
    return {k: v for k, v in list(form.items())[:MAX_VALUES] if isinstance(v, str)}


Values = Depends(_values)


@router.get("/f/{form_key}")
def hosted_form(form_key: str, request: Request) -> Response:
    form = _load(request, form_key)
    if form is None:
        return _page(request, "missing", status=404)
    # the page's own URL (its UTM parameters) and where the visitor came from travel with the post
    return _page(request, "form", form=form, page_url=str(request.url), referrer=request.headers.get("referer", ""))


@router.get("/f/{form_key}/landing")
def landing(form_key: str, request: Request) -> Response:
    """The landing template of a form, rendered for the sandboxed frame above the hosted form
    (no scripts, no forms; the frame CSP). 404 when the form has none."""
    form = _load(request, form_key)
    if form is None or not form.landing_template:
        return Response("not found", status_code=404, media_type="text/plain")
    c = container(request)
    viewer = _viewer(request, form)
    try:
        with c.uow(read_only=True) as uow:
            out = preview(uow, form.landing_template, contact_id=None, locale=viewer.locale,
                          public_url=c.settings.public_url.rstrip("/"), data={"form": form.key})
    except (LookupError, TemplateError) as exc:
        log.warning("form %s: landing template %r cannot be shown: %s", form.key, form.landing_template, exc)
        return Response("not found", status_code=404, media_type="text/plain")
    return sandboxed_html(str(out["html"] or ""))


@router.options("/f/{form_key}")
def preflight(form_key: str, request: Request) -> Response:
    form = _load(request, form_key)
    allowed, origin = _origin_ok(request, form) if form else (False, None)
    if not allowed or origin is None:
        return Response(status_code=403)
    response = Response(status_code=204, headers={"Access-Control-Allow-Methods": "POST",
                                                  "Access-Control-Allow-Headers": "Content-Type",
                                                  "Access-Control-Max-Age": "600"})
    return _cors(response, origin)


@router.post("/f/{form_key}")
def submit_form(form_key: str, request: Request, values: dict[str, Any] = Values) -> Response:
    c = container(request)
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    form = _load(request, form_key)
    if form is None:
        if wants_json:
            return JSONResponse({"error": "form not found"}, status_code=404)
        return _page(request, "missing", status=404)
    allowed, origin = _origin_ok(request, form)
    if not allowed:
        return JSONResponse({"error": "this site may not post to the form"}, status_code=403)
    now = c.clock.now()
    ip = request.client.host if request.client else "unknown"
    if not c.form_gate.allow(form.key, ip, now):
        if wants_json:
            return _cors(JSONResponse({"error": "too many submissions; try again later"}, status_code=429,
                                      headers={"Retry-After": "600"}), origin)
        return _page(request, "limited", form=form, status=429)
    if "__invalid__" in values:
        return _cors(JSONResponse({"errors": [{"field": "", "message": values["__invalid__"]}]}, 400), origin)
    visitor = use.Visitor(ip=ip, user_agent=request.headers.get("user-agent", ""),
                          page_url=str(values.get("page_url") or request.headers.get("referer") or ""),
                          referrer=str(values.get("referrer") or ""))
    try:
        result = use.submit(c.forms_intake, form.key, values, visitor, now)
    except UnknownForm:
        return _page(request, "missing", status=404)
    except SubmissionInvalid as exc:
        if wants_json:
            errors = [{"field": f, "message": m} for f, m in exc.errors]
            return _cors(JSONResponse({"errors": errors}, status_code=422), origin)
        return _page(request, "form", form=form, status=422, errors=dict(exc.errors), values=values,
                     page_url=visitor.page_url, referrer=visitor.referrer)
    pending = result.status is not None and result.status.value == "pending"
    if wants_json:
        body = {"status": "pending" if pending else "accepted", "message": form.thank_you,
                "redirect": result.redirect}
        return _cors(JSONResponse(body), origin)
    if result.redirect:
        return RedirectResponse(result.redirect, status_code=303, headers=NO_STORE)
    return _page(request, "thanks", form=form, pending=pending)


@router.get("/f/{form_key}/embed.js")
def embed_script(form_key: str, request: Request) -> Response:
    form = _load(request, form_key)
    if form is None:
        return Response("/* form not found */", status_code=404, media_type="text/javascript")
    c = container(request)
    viewer = _viewer(request, form)
    with i18n.viewing_as(viewer):
        labels = {"submit": str(_("Subscribe")), "failed": str(_("The form could not be sent. Try again later."))}
    config = {
        "action": f"{c.settings.public_url.rstrip('/')}/f/{form.key}",
        "key": form.key,
        "honeypot": HONEYPOT,
        "dir": viewer.direction,
        "fields": [{"name": f.name, "label": f.label, "type": f.type, "required": f.required,
                    "options": list(f.options)} for f in form.fields],
        "consents": [{"channel": b.channel, "text": b.text, "required": b.required} for b in form.consents],
        "labels": labels,
    }
    # JSON inside a script: no "</script>" or HTML comment can close it
    data = json.dumps(config, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
    body = EMBED_JS.read_text(encoding="utf-8").replace("/*CONFIG*/null", data)
    return Response(body, media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
                             "Cross-Origin-Resource-Policy": "cross-origin"})


# --------------------------------------------------------------------------- the double opt-in link


def _read_link(request: Request, token: str) -> tuple[tracking.Token | None, Response | None]:
    c = container(request)
    try:
        return c.form_links.read(token, c.clock.now()), None
    except tracking.ExpiredToken as exc:
        return None, _expired(request, exc.token)
    except tracking.BadToken:
        return None, _page(request, "bad_link", status=400)


def _expired(request: Request, token: tracking.Token | None) -> Response:
    """The expired page, with a link back to the form (an expired token's content is still authentic)."""
    form = None
    if token is not None:
        with container(request).uow(read_only=True) as uow:
            rec = uow.form_submissions.get(token.a)
            found = uow.forms.get(rec.form_key) if rec is not None and rec.nonce == token.b else None
        form = found.definition if found else None
    return _page(request, "expired", form=form, status=410)


@router.get("/f/confirm/{token}")
def confirm_page(token: str, request: Request) -> Response:
    tok, refused = _read_link(request, token)
    if refused is not None or tok is None:
        return refused or _page(request, "bad_link", status=400)
    with container(request).uow(read_only=True) as uow:
        rec = uow.form_submissions.get(tok.a)
        found = uow.forms.get(rec.form_key) if rec else None
    if rec is None or rec.nonce != tok.b or found is None:
        return _page(request, "bad_link", status=400)
    if rec.status.value == "confirmed":
        return _page(request, "confirmed", form=found.definition, already=True)
    if rec.status.value == "expired":
        return _page(request, "expired", form=found.definition, status=410)
    return _page(request, "confirm", form=found.definition, token=token)


@router.post("/f/confirm/{token}")
def confirm_post(token: str, request: Request) -> Response:
    tok, refused = _read_link(request, token)
    if refused is not None or tok is None:
        return refused or _page(request, "bad_link", status=400)
    c = container(request)
    visitor = use.Visitor(ip=request.client.host if request.client else "unknown",
                          user_agent=request.headers.get("user-agent", ""))
    try:
        result = use.confirm(c.uow, tok.a, tok.b, visitor, c.clock.now())
    except use.BadLink:
        return _page(request, "bad_link", status=400)
    form = _load(request, result.form_key)
    if result.outcome is Outcome.EXPIRED:
        return _page(request, "expired", form=form, status=410)
    return _page(request, "confirmed", form=form, already=result.outcome is Outcome.ALREADY)
