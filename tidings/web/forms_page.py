"""Page: forms (marketers) — list, create and edit a form's JSON document, the hosted URL and the
embed snippet to copy, its submissions with their consent status.

The same use cases as ``tidings forms`` and ``/api/forms`` (``application/forms/forms.py``);
the public pages themselves are ``forms_public.py``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.forms import forms as use
from tidings.application.ports.forms import FormExists
from tidings.domain.forms.model import FormInvalid
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.i18n import _
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

EXAMPLE = {
    "key": "newsletter",
    "name": "Newsletter",
    "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
               {"name": "first_name", "label": "First name", "maps_to": "first_name"}],
    "consents": [{"channel": "email", "text": "Yes, email me the newsletter. I can unsubscribe at any time."}],
    "double_opt_in": True,
}


def _errors(exc: FormInvalid) -> list[str]:
    return [f"{p}: {m}" if p else m for p, m in exc.errors]


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FormInvalid([("", str(_("The document is not JSON: %(error)s", error=str(exc))))]) from None


def _list(request: Request, *, document: str = "", errors: list[str] | None = None, status: int = 200) -> Response:
    rows = use.list_forms(container(request).uow(read_only=True))
    return render(request, "forms.html", {"rows": rows, "document": document or json.dumps(EXAMPLE, indent=2),
                                          "errors": errors or []}, status=status, page="forms")


def _detail(request: Request, key: str, *, document: str = "", errors: list[str] | None = None,
            notice: str = "", status: int = 200) -> Response:
    c = container(request)
    try:
        rec = use.get_form(c.uow(read_only=True), key)
    except use.UnknownForm:
        raise PageNotFound(_("Form %(key)s", key=key)) from None
    base = c.settings.public_url.rstrip("/")
    snippet = f'<div id="tidings-form-{rec.key}"></div>\n<script src="{base}/f/{rec.key}/embed.js" async></script>'
    doc = document or json.dumps(rec.definition.as_doc(), indent=2, ensure_ascii=False)
    subs = use.submissions(c.uow(read_only=True), key, 100)
    return render(request, "form_detail.html", {"rec": rec, "document": doc, "errors": errors or [],
                                                "notice": notice, "hosted": f"{base}/f/{rec.key}",
                                                "snippet": snippet, "submissions": subs},
                  status=status, page="forms")


@router.get("/forms")
def forms_page(request: Request, session: Session = Viewer) -> Response:
    return _list(request)


@router.post("/forms")
def create_form(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    text = str(form.get("document", ""))
    c = container(request)
    try:
        rec = use.create_form(c.uow(), _parse(text), c.clock.now())
    except FormInvalid as exc:
        return _list(request, document=text, errors=_errors(exc), status=422)
    except FormExists as exc:
        return _list(request, document=text, errors=[str(exc)], status=409)
    return RedirectResponse(f"/forms/{rec.key}", status_code=303)


@router.get("/forms/{key}")
def form_page(key: str, request: Request, session: Session = Viewer) -> Response:
    return _detail(request, key, notice=request.query_params.get("notice", ""))


@router.post("/forms/{key}")
def save_form(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    text = str(form.get("document", ""))
    c = container(request)
    try:
        use.edit_form(c.uow(), key, _parse(text), c.clock.now())
    except FormInvalid as exc:
        return _detail(request, key, document=text, errors=_errors(exc), status=422)
    except use.UnknownForm:
        raise PageNotFound(_("Form %(key)s", key=key)) from None
    return RedirectResponse(f"/forms/{key}?notice=saved", status_code=303)
