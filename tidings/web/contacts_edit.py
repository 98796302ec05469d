"""Pages: change contacts in the browser — create, edit fields and attributes, tag and untag,
consent per channel with its proof, delete (erasure as the API does it), export the listed
contacts as CSV or JSON Lines, and bulk tag / untag of the listed contacts (a segment, a search)
after a preview count. Every write goes through ``application/contacts/contacts``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.contacts import contacts as svc
from tidings.application.contacts.identity import IdentityConflict
from tidings.application.ingest import exports
from tidings.domain.contacts import InvalidValue
from tidings.domain.snapshot import PROFILE_FIELDS
from tidings.store import contact_lists
from tidings.store.contact_lists import ListFilter
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

#: the fields of the contact form (score is computed by journeys, not typed)
FORM_FIELDS = tuple(f for f in PROFILE_FIELDS if f != "score")
CONSENT_TEXT = "I agree to receive marketing messages from us on this channel. I can unsubscribe at any time."
BULK_ACTIONS = ("tag", "untag", "enrol")


def _form_values(form: FormData) -> dict[str, str]:
    return {f: str(form.get(f, "")).strip() for f in (*FORM_FIELDS, "attributes", "tags")}


def _input(values: dict[str, str], old_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The form -> a contact change (empty fields clear them; attributes: the JSON object as
    it should be, so keys removed from the text are deleted)."""
    raw: dict[str, Any] = {f: (values[f] or None) for f in FORM_FIELDS}
    text = values["attributes"] or "{}"
    try:
        attrs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidValue("attributes", f"attributes must be a JSON object ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(attrs, dict):
        raise InvalidValue("attributes", 'attributes must be a JSON object, e.g. {"plan": "pro"}')
    patch = {k: None for k in (old_attributes or {}) if k not in attrs} | attrs
    raw["attributes"] = patch
    if values.get("tags"):
        raw["tags"] = [t.strip() for t in values["tags"].split(",") if t.strip()]
    return raw


def _form_page(
    request: Request, contact: dict[str, Any] | None, values: dict[str, str], error: str = "", field: str = ""
) -> Response:
    ctx = {
        "contact": contact,
        "values": values,
        "fields": FORM_FIELDS,
        "error": error,
        "errors": {field: error} if field else {},
    }
    return render(request, "contact_form.html", ctx, status=422 if error else 200, page="contacts")


def _source(session: Session) -> str:
    return f"web:{session.user.email}"


@router.get("/contacts/new")
def new_contact(request: Request, session: Session = Writer) -> Response:
    return _form_page(request, None, {f: "" for f in (*FORM_FIELDS, "tags")} | {"attributes": "{}"})


@router.post("/contacts/new")
def create_contact(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = _form_values(form)
    c = container(request)
    now = c.clock.now()
    try:
        data = svc.normalise_input(_input(values, None), now)
        with c.engine.begin() as conn:
            cid = svc.create_contact(joined(conn), data, now, source=_source(session))
    except InvalidValue as exc:
        return _form_page(request, None, values, exc.message, exc.field.split(".")[0])
    except svc.ContactExists as exc:
        return _form_page(request, None, values, str(exc), exc.field)
    return RedirectResponse(f"/contacts/{cid}", status_code=303)


def _contact_or_404(request: Request, contact_id: int) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        contact = svc.get_contact(joined(conn), contact_id)
    if contact is None:
        raise PageNotFound(f"Contact {contact_id}")
    return contact


@router.get("/contacts/{contact_id}/edit")
def edit_contact(contact_id: int, request: Request, session: Session = Writer) -> Response:
    contact = _contact_or_404(request, contact_id)
    values = {f: str(contact[f] or "") for f in FORM_FIELDS}
    values["attributes"] = json.dumps(contact["attributes"], indent=2, ensure_ascii=False, sort_keys=True)
    values["tags"] = ""
    return _form_page(request, contact, values)


@router.post("/contacts/{contact_id}/edit")
def save_contact(contact_id: int, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    contact = _contact_or_404(request, contact_id)
    values = _form_values(form)
    c = container(request)
    now = c.clock.now()
    try:
        data = svc.normalise_input(_input(values, contact["attributes"]), now)
        with c.engine.begin() as conn:
            svc.update_contact(joined(conn), contact_id, data, now, source=_source(session))
    except InvalidValue as exc:
        return _form_page(request, contact, values, exc.message, exc.field.split(".")[0])
    except IdentityConflict as exc:
        return _form_page(request, contact, values, exc.message, exc.field)
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


def _change(request: Request, session: Session, contact_id: int, raw: dict[str, Any]) -> Response:
    _contact_or_404(request, contact_id)
    c = container(request)
    now = c.clock.now()
    try:
        data = svc.normalise_input(raw, now)
    except InvalidValue as exc:
        return render(
            request, "error.html", {"title": "Not saved", "message": f"{exc.field}: {exc.message}"}, status=422
        )
    with c.engine.begin() as conn:
        svc.update_contact(joined(conn), contact_id, data, now, source=_source(session))
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.post("/contacts/{contact_id}/tags")
def add_tags(contact_id: int, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    return _change(request, session, contact_id, {"tags_add": tags})


@router.post("/contacts/{contact_id}/tags/remove")
def remove_tag(contact_id: int, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    return _change(request, session, contact_id, {"tags_remove": [str(form.get("tag", ""))]})


@router.post("/contacts/{contact_id}/consent")
def change_consent(
    contact_id: int, request: Request, session: Session = Writer, form: FormData = FormFields
) -> Response:
    """Consent on one channel, with its proof: who (the user), when (now), the text shown."""
    channel, status = str(form.get("channel", "")), str(form.get("status", ""))
    text = str(form.get("text", "")).strip()
    proof = {"form": "tidings web: contact page", "user": session.user.email, "text": text}
    consent = {channel: {"status": status, "source": _source(session), "proof": proof}}
    return _change(request, session, contact_id, {"consent": consent})


@router.post("/contacts/{contact_id}/delete")
def erase_contact(contact_id: int, request: Request, session: Session = Writer) -> Response:
    """Hard delete, as ``DELETE /api/contacts/{id}``: the contact and every row about it."""
    with container(request).engine.begin() as conn:
        if not svc.delete_contact(joined(conn), contact_id):
            raise PageNotFound(f"Contact {contact_id}")
    return RedirectResponse("/contacts?" + urlencode({"notice": f"Contact {contact_id} was erased."}), status_code=303)


# --------------------------------------------------------------------------- export and bulk


def list_filter(params: Any) -> ListFilter:
    return ListFilter(**{k: str(params.get(k, ""))[:200] for k in ("q", "tag", "segment", "stage", "journey", "step")})


@router.get("/contacts/export.{fmt}")
def export_contacts(fmt: str, request: Request, session: Session = Viewer) -> Response:
    """The listed contacts (the page's filters) as CSV or JSON Lines, streamed."""
    if fmt not in exports.FORMATS:
        raise PageNotFound(f"Export format {fmt!r}")
    f = list_filter(request.query_params)
    engine = container(request).engine

    def chunks() -> Iterator[list[dict[str, Any]]]:
        with engine.connect() as conn:
            for ids in contact_lists.id_chunks(conn, f, chunk=500):
                yield svc.get_contacts(joined(conn), ids)

    body = exports.csv_chunks(chunks()) if fmt == "csv" else exports.jsonl_chunks(chunks())
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="contacts.{fmt}"'}
    )


@router.get("/contacts/bulk")
def bulk_preview(request: Request, session: Session = Writer) -> Response:
    """What a bulk action would touch: the count, before the user confirms."""
    f = list_filter(request.query_params)
    action, tag = request.query_params.get("action", "tag"), request.query_params.get("value", "").strip()
    with container(request).engine.connect() as conn:
        n = contact_lists.count(conn, f)
    ctx = {"f": f, "n": n, "action": action, "value": tag, "actions": BULK_ACTIONS, "done": None}
    return render(request, "contacts_bulk.html", ctx, page="contacts")


@router.post("/contacts/bulk")
def bulk_apply(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    """Tag or untag every listed contact (one transaction per chunk of 500, events recorded), or
    enrol each in a journey through its manual entry."""
    f = list_filter(form)
    action, value = str(form.get("action", "")), str(form.get("value", "")).strip()
    if action not in BULK_ACTIONS:
        raise PageNotFound(f"Bulk action {action!r}")
    if f.empty:
        return render(
            request,
            "error.html",
            {"title": "Not done", "message": "choose a filter (a segment, a tag, a search) first"},
            status=422,
        )
    c = container(request)
    now = c.clock.now()
    with c.engine.connect() as conn:
        chunks = list(contact_lists.id_chunks(conn, f, chunk=500))
    ctx = {"f": f, "action": action, "value": value, "actions": BULK_ACTIONS, "refused": {}}
    if action == "enrol":
        entered, refused = _enrol(c, value, chunks)
        ctx |= {"n": entered, "done": entered, "refused": refused}
        return render(request, "contacts_bulk.html", ctx, page="contacts")
    try:
        data = svc.normalise_input({"tags_add" if action == "tag" else "tags_remove": [value]}, now)
    except InvalidValue as exc:
        return render(request, "error.html", {"title": "Not done", "message": f"tag: {exc.message}"}, status=422)
    done = 0
    for ids in chunks:
        with c.engine.begin() as conn:
            for cid in ids:
                svc.update_contact(joined(conn), cid, data, now, source=_source(session))
        done += len(ids)
    ctx |= {"n": done, "done": done}
    return render(request, "contacts_bulk.html", ctx, page="contacts")


def _enrol(c: Any, journey: str, chunks: list[list[int]]) -> tuple[int, dict[str, int]]:
    """Enrol each listed contact in ``journey`` (its manual entry, one transaction each): how
    many entered, and how many were refused for each reason (not active, re-entry rules...)."""
    from tidings.application.journeys import signals
    from tidings.application.journeys.engine import EngineError

    entered, refused = 0, dict[str, int]()
    for ids in chunks:
        for cid in ids:
            try:
                signals.enroll(c, journey, cid)
                entered += 1
            except EngineError as exc:
                reason = str(exc).replace(f"contact {cid} ", "the contact ")
                refused[reason] = refused.get(reason, 0) + 1
    return entered, refused
