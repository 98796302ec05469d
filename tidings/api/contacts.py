"""HTTP routes: contacts (create, upsert, read, change, list, delete, timeline, CSV export, personal data zip)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.access.keys import ApiKey
from tidings.application.contacts import contacts as svc
from tidings.application.contacts.identity import IdentityConflict
from tidings.application.contacts.search import search_contacts
from tidings.application.contacts.timeline import timeline
from tidings.application.ingest.exports import export_csv_chunks
from tidings.application.privacy.data_export import UnknownContact, export_spool, file_chunks
from tidings.domain.channels import ConsentChannelName
from tidings.domain.contacts import InvalidValue
from tidings.store.content_sql import SqlContactReader
from tidings.store.data_export_sql import SqlDataExport
from tidings.store.db import read_only
from tidings.store.sql_uow import joined

router = APIRouter(prefix="/api/contacts", tags=["contacts"], route_class=StrictRoute)

class ProofIn(BaseModel):
    """What proves the consent: the form, the text shown, where it came from."""

    model_config = ConfigDict(extra="allow")
    form: str | None = None
    text: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["granted", "denied", "unsubscribed", "pending"]
    source: str | None = Field(default=None, max_length=100)
    recorded_at: datetime | None = None
    proof: ProofIn | None = None


class ContactIn(BaseModel):
    """A contact or a change to one. Omitted fields are left alone; ``null`` clears a field."""

    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)
    lifecycle_stage: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, max_length=320)
    score: float | None = None
    attributes: dict[str, Any] | None = Field(default=None, description="JSON merge patch: null deletes a key")
    tags: list[str] | None = Field(default=None, description="tags to add")
    tags_add: list[str] | None = None
    tags_remove: list[str] | None = None
    consent: dict[ConsentChannelName, ConsentIn] | None = None


def to_input(body: ContactIn, now: datetime) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    for ch, c in (data.get("consent") or {}).items():
        if c.get("proof") is not None:
            data["consent"][ch]["proof"] = {k: v for k, v in c["proof"].items() if v is not None}
    try:
        return svc.normalise_input(data, now)
    except InvalidValue as exc:
        raise invalid(exc, ["body"]) from None


def invalid(exc: InvalidValue, prefix: list[Any]) -> ApiError:
    loc = prefix + [int(p) if p.isdigit() else p for p in exc.field.split(".")]
    return ApiError(
        422,
        "validation_error",
        f"{'.'.join(map(str, loc))}: {exc.message}",
        [{"loc": loc, "msg": exc.message, "type": "value_error"}],
    )


def conflict(field: str, message: str) -> ApiError:
    return ApiError(409, "conflict", message, [{"loc": ["body", field], "msg": message, "type": "conflict"}])


@router.post("", status_code=201, dependencies=[RequireWrite])
def create_contact(body: ContactIn, request: Request) -> dict[str, Any]:
    """Create a contact; 409 when its external id, email or phone is already known."""
    c = container(request)
    now = c.clock.now()
    data = to_input(body, now)
    try:
        with c.engine.begin() as conn:
            cid = svc.create_contact(joined(conn), data, now)
            return svc.get_contact(joined(conn), cid) or {}
    except svc.ContactExists as exc:
        raise conflict(exc.field, str(exc)) from None


@router.post("/upsert", dependencies=[RequireWrite])
def upsert_contact(body: ContactIn, request: Request, response: Response) -> dict[str, Any]:
    """Update the contact named by external_id, email or phone (in that order), or create it."""
    c = container(request)
    now = c.clock.now()
    data = to_input(body, now)
    if not any(data.get(k) for k in ("external_id", "email", "phone")):
        raise ApiError(
            422,
            "validation_error",
            "body: give external_id, email or phone to upsert by",
            [{"loc": ["body", "email"], "msg": "an identifier is required", "type": "missing"}],
        )
    try:
        with c.engine.begin() as conn:
            cid, created = svc.upsert_contact(joined(conn), data, now)
            response.status_code = 201 if created else 200
            return {**(svc.get_contact(joined(conn), cid) or {}), "created": created}
    except (svc.ContactExists, IdentityConflict) as exc:
        raise conflict(getattr(exc, "field", "email"), str(exc)) from None


@router.get("", dependencies=[RequireRead])
def list_contacts(
    request: Request,
    tag: str | None = None,
    stage: str | None = None,
    owner: str | None = None,
    q: str | None = Query(
        default=None,
        max_length=500,
        description=(
            "full-text search, as on the web contacts page: every whitespace-separated term must occur "
            "(case-insensitive substring) in the email, first or last name, phone, external id or "
            "attributes. With q, contacts come newest first and next_cursor pages on through the hits "
            "(a page may hold fewer than limit items when other filters drop hits; follow next_cursor)"
        ),
    ),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """Contacts in id order, or with ``q`` the hits of a full-text search, newest first."""
    c = container(request)
    f = svc.ContactFilter(tag=tag, stage=stage, owner=owner, created_after=created_after, created_before=created_before)
    try:
        with read_only(c.engine.connect()) as conn:
            if q is not None and q.strip():
                items, nxt = search_contacts(joined(conn), c.contact_search, q, f, cursor=cursor, limit=limit)
            else:
                items, nxt = svc.list_contacts(joined(conn), f, cursor=cursor, limit=limit)
    except InvalidValue as exc:
        raise invalid(exc, ["query"]) from None
    return {"items": items, "next_cursor": nxt}


@router.get("/export.csv", dependencies=[RequireRead])
def export_contacts(
    request: Request, tag: str | None = None, stage: str | None = None, owner: str | None = None
) -> StreamingResponse:
    """Every matching contact as CSV; cells that a spreadsheet would run as formulas are made inert."""
    c = container(request)
    f = svc.ContactFilter(tag=tag, stage=stage, owner=owner)
    return StreamingResponse(
        export_csv_chunks(c.uow, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


def _get_or_404(conn: Any, contact_id: int) -> dict[str, Any]:
    found = svc.get_contact(joined(conn), contact_id)
    if found is None:
        raise ApiError(404, "not_found", f"no contact with id {contact_id}")
    return found


@router.get("/{contact_id}", dependencies=[RequireRead])
def get_contact(contact_id: int, request: Request) -> dict[str, Any]:
    c = container(request)
    with read_only(c.engine.connect()) as conn:
        return _get_or_404(conn, contact_id)


@router.patch("/{contact_id}", dependencies=[RequireWrite])
def patch_contact(contact_id: int, body: ContactIn, request: Request) -> dict[str, Any]:
    """Change fields; attributes merge (null deletes a key); tags_add / tags_remove; consent per channel."""
    c = container(request)
    now = c.clock.now()
    data = to_input(body, now)
    try:
        with c.engine.begin() as conn:
            if svc.update_contact(joined(conn), contact_id, data, now) is None:
                raise ApiError(404, "not_found", f"no contact with id {contact_id}")
            return _get_or_404(conn, contact_id)
    except IdentityConflict as exc:
        raise conflict(exc.field, exc.message) from None


@router.delete("/{contact_id}", status_code=204, dependencies=[RequireWrite])
def delete_contact(contact_id: int, request: Request) -> Response:
    """Hard delete: the contact, its events, tags, consent and every other row about it."""
    c = container(request)
    with c.engine.begin() as conn:
        if not svc.delete_contact(joined(conn), contact_id):
            raise ApiError(404, "not_found", f"no contact with id {contact_id}")
    return Response(status_code=204)


@router.get("/{contact_id}/events", dependencies=[RequireRead])
def contact_events(
    contact_id: int,
    request: Request,
    name: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    """The contact's timeline, newest first."""
    c = container(request)
    with read_only(c.engine.connect()) as conn:
        _get_or_404(conn, contact_id)
        try:
            items, nxt = timeline(SqlContactReader(conn), contact_id, cursor=cursor, limit=limit, name=name)
        except InvalidValue as exc:
            raise invalid(exc, ["query"]) from None
    return {"items": items, "next_cursor": nxt}


@router.get("/{contact_id}/data-export")
def data_export(contact_id: int, request: Request, key: ApiKey = RequireRead) -> StreamingResponse:
    """Everything stored about the contact as a zip of JSON / CSV files (GDPR Art. 15 and 20).
    The ``read`` scope, as every other read of a contact's data (it is the same data)."""
    c = container(request)
    try:
        with read_only(c.engine.connect()) as conn:
            spool = export_spool(SqlDataExport(conn), contact_id, c.clock.now(), by=f"api:key {key.id}")
    except UnknownContact:
        raise ApiError(404, "not_found", f"no contact with id {contact_id}") from None
    return StreamingResponse(file_chunks(spool), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="contact-{contact_id}-personal-data.zip"'})
