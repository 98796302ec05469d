"""HTTP routes: forms for marketers (docs/forms.md). The public pages are in ``web/forms_public.py``.

- ``GET /api/forms`` (scope ``read``), ``POST /api/forms`` (``write``; the form document, 201),
  ``GET /api/forms/{key}``, ``PUT /api/forms/{key}`` (``write``; the whole new document),
  ``GET /api/forms/{key}/submissions`` (``read``): newest first, each with its consent proof and
  double opt-in state. An invalid document is 422 with every problem's field path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.forms import forms as use
from tidings.application.ports.forms import FormExists
from tidings.domain.forms.model import FormInvalid

router = APIRouter(tags=["forms"], route_class=StrictRoute)

FORM_EXAMPLE = {
    "key": "newsletter",
    "name": "Newsletter",
    "fields": [{"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"}],
    "consents": [{"channel": "email", "text": "Yes, email me the newsletter."}],
    "double_opt_in": True,
}


def _invalid(exc: FormInvalid) -> ApiError:
    details = [{"loc": ["body", *(p.replace("]", "").replace("[", ".").split(".") if p else [])], "msg": m}
               for p, m in exc.errors]
    return ApiError(422, "validation_error", str(exc), details)


def _unknown(key: str) -> ApiError:
    return ApiError(404, "not_found", f"form {key!r} not found", [{"loc": ["path", "key"], "msg": "unknown"}])


@router.get("/api/forms", dependencies=[RequireRead])
def list_forms(request: Request) -> dict[str, Any]:
    return {"items": [use.form_json(f) for f in use.list_forms(container(request).uow(read_only=True))]}


@router.post("/api/forms", status_code=201, dependencies=[RequireWrite])
def create_form(request: Request, body: dict[str, Any] = Body(examples=[FORM_EXAMPLE])) -> dict[str, Any]:
    c = container(request)
    try:
        return use.form_json(use.create_form(c.uow(), body, c.clock.now()))
    except FormInvalid as exc:
        raise _invalid(exc) from None
    except FormExists as exc:
        raise ApiError(409, "conflict", str(exc), [{"loc": ["body", "key"], "msg": str(exc)}]) from None


@router.get("/api/forms/{key}", dependencies=[RequireRead])
def show_form(key: str, request: Request) -> dict[str, Any]:
    try:
        return use.form_json(use.get_form(container(request).uow(read_only=True), key))
    except use.UnknownForm:
        raise _unknown(key) from None


@router.put("/api/forms/{key}", dependencies=[RequireWrite])
def edit_form(key: str, request: Request, body: dict[str, Any] = Body(examples=[FORM_EXAMPLE])) -> dict[str, Any]:
    c = container(request)
    try:
        return use.form_json(use.edit_form(c.uow(), key, body, c.clock.now()))
    except FormInvalid as exc:
        raise _invalid(exc) from None
    except use.UnknownForm:
        raise _unknown(key) from None


@router.get("/api/forms/{key}/submissions", dependencies=[RequireRead])
def list_submissions(key: str, request: Request, limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    try:
        rows = use.submissions(container(request).uow(read_only=True), key, limit)
    except use.UnknownForm:
        raise _unknown(key) from None
    return {"items": [use.submission_json(r) for r in rows]}
