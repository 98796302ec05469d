"""HTTP routes: events (one, or a batch), idempotent on ``message_id``.

A batch is all or nothing: every item is validated first, and if any is invalid the response
is 422 listing each bad item's field path (``["body", "batch", 3, "properties"]``) and no item
is stored. A retried batch stores nothing twice; its repeated message ids are reported in
``duplicates``.

Scope: ``track`` (granted by ``write`` and ``admin`` too). A website's or shop's track key may
send events here as on ``/v1/*``, and never read anything back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from tidings.api.deps import RequireTrack, container
from tidings.api.ingest_body import check_batch_size, parse, read_body, run_ingest, unprocessable
from tidings.api.routing import StrictRoute
from tidings.application.contacts.changes import new_message_id
from tidings.application.ingest.ingest import Incoming
from tidings.domain.contacts import InvalidValue, normalise_email, normalise_phone
from tidings.domain.names import check_name, control_problem

#: an identifier (external id, anonymous id, message id): no control characters
Identifier = Annotated[str, AfterValidator(check_name)]

router = APIRouter(prefix="/api/events", tags=["events"], route_class=StrictRoute)


class EventIn(BaseModel):
    """An event. Name its contact by one of contact_id, external_id, email, phone, anonymous_id."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="e.g. order.completed")
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = Field(default=None, description="when it happened (default: now)")
    message_id: Identifier | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the sender's id; a repeated id is stored once",
    )
    contact_id: int | None = None
    external_id: Identifier | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    anonymous_id: Identifier | None = Field(default=None, min_length=1, max_length=200)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch: list[EventIn]


ONE = TypeAdapter(EventIn)
MANY = TypeAdapter(EventBatch)


def utc(ts: datetime | None, now: datetime) -> datetime:
    if ts is None:
        return now
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def to_incoming(
    ev: EventIn, index: int, now: datetime, loc: list[Any], errors: list[dict[str, Any]]
) -> Incoming:
    item = Incoming(
        kind="track",
        message_id=ev.message_id or new_message_id(),
        occurred_at=utc(ev.timestamp, now),
        name=ev.name,
        properties=ev.properties,
        user_id=ev.external_id,
        anonymous_id=ev.anonymous_id,
        contact_id=ev.contact_id,
        index=index,
    )
    problem = control_problem(ev.name)
    if problem is not None:
        errors.append({"loc": [*loc, "name"], "msg": problem, "type": "value_error"})
    try:
        item.email = normalise_email(ev.email) if ev.email else None
    except InvalidValue as exc:
        errors.append({"loc": [*loc, "email"], "msg": exc.message, "type": "value_error"})
    try:
        item.phone = normalise_phone(ev.phone) if ev.phone else None
    except InvalidValue as exc:
        errors.append({"loc": [*loc, "phone"], "msg": exc.message, "type": "value_error"})
    if not any((ev.contact_id is not None, ev.external_id, ev.email, ev.phone, ev.anonymous_id)):
        errors.append(
            {
                "loc": [*loc, "contact_id"],
                "type": "missing",
                "msg": "name the contact: contact_id, external_id, email, phone or anonymous_id",
            }
        )
    return item


_schema = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EventIn.model_json_schema()}},
    }
}
_batch_schema = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["batch"],
                    "properties": {"batch": {"type": "array", "items": EventIn.model_json_schema()}},
                }
            }
        },
    }
}


@router.post("", status_code=202, dependencies=[RequireTrack], openapi_extra=_schema)
async def post_event(request: Request) -> dict[str, Any]:
    """Record one event. Unknown external ids, emails, phones and anonymous ids create the contact."""
    c = container(request)
    ev = parse(ONE, await read_body(request, c.settings.max_body_bytes))
    errors: list[dict[str, Any]] = []
    item = to_incoming(ev, 0, c.clock.now(), ["body"], errors)
    if errors:
        raise unprocessable(errors)
    result = await _run(c, [item], [])
    return {"accepted": result.accepted, "duplicates": result.duplicates, "message_id": item.message_id}


@router.post("/batch", status_code=202, dependencies=[RequireTrack], openapi_extra=_batch_schema)
async def post_batch(request: Request) -> dict[str, Any]:
    """Record a batch atomically: any invalid item rejects the whole batch (422, every bad item listed)."""
    c = container(request)
    body = parse(MANY, await read_body(request, c.settings.max_body_bytes))
    check_batch_size(c, len(body.batch), ["body", "batch"])
    now = c.clock.now()
    errors: list[dict[str, Any]] = []
    items = [to_incoming(ev, i, now, ["body", "batch", i], errors) for i, ev in enumerate(body.batch)]
    if errors:
        raise unprocessable(errors)
    result = await _run(c, items, ["body", "batch"])
    return {"accepted": result.accepted, "duplicates": result.duplicates}


async def _run(c: Any, items: list[Incoming], loc: list[Any]) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run_ingest, c, items, "api", loc)
