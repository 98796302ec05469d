"""The Segment-compatible tracking API: ``/v1/identify|track|page|screen|group|alias|batch``.

Point an existing Segment or RudderStack client at Tidings: the write key goes in HTTP Basic
as the user name (a key with the ``track`` scope, which cannot read anything back), bodies may
be gzipped. Identify traits are read from ``traits`` or ``context.traits``; email, phone and
name traits fill the standard fields, the rest become custom attributes. ``page`` and
``screen`` are stored as the events ``page.viewed`` / ``screen.viewed``; ``group`` sets the
attribute ``group``; ``alias`` merges the previous identity into the user. A batch is all or
nothing, like ``/api/events/batch``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter

from tidings.api.deps import RequireTrack, container
from tidings.api.ingest_body import check_batch_size, parse, read_body, run_ingest, unprocessable
from tidings.api.routing import StrictRoute
from tidings.application.contacts.changes import new_message_id
from tidings.application.ingest.ingest import Incoming, traits_to_changes
from tidings.domain.names import check_name, control_problem

router = APIRouter(prefix="/v1", tags=["tracking"], route_class=StrictRoute)


def _to_str(v: Any) -> Any:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


Id = Annotated[
    str, BeforeValidator(_to_str), StringConstraints(min_length=1, max_length=200), AfterValidator(check_name)
]


def _empty_is_none(v: Any) -> Any:
    return None if v == "" else v


#: the RudderStack JS SDK sends ``"userId": ""`` for a visitor not identified yet: no user id
UserId = Annotated[Id | None, BeforeValidator(_empty_is_none)]
Kind = Literal["identify", "track", "page", "screen", "group", "alias"]


class Message(BaseModel):
    """One Segment spec call (fields this API reads; others are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore")
    type: Kind | None = None
    userId: UserId = None
    anonymousId: Id | None = None
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    timestamp: datetime | None = None
    messageId: Id | None = None
    groupId: Id | None = None
    previousId: Id | None = None


class Batch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    batch: list[Message]
    context: dict[str, Any] | None = None


ONE = TypeAdapter(Message)
MANY = TypeAdapter(Batch)
EVENT_NAMES = {"page": "page.viewed", "screen": "screen.viewed"}


def convert(m: Message, kind: str, index: int, now: datetime, loc: list[Any], errors: list[dict[str, Any]]) -> Incoming:
    """A Segment call -> an Incoming; semantic errors are appended with their field path."""
    ts = m.timestamp or now
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    item = Incoming(
        kind=kind,
        message_id=m.messageId or new_message_id(),
        occurred_at=ts,
        user_id=m.userId,
        anonymous_id=m.anonymousId,
        index=index,
    )
    if kind == "alias":
        if not m.userId:
            errors.append({"loc": [*loc, "userId"], "msg": "alias needs userId", "type": "missing"})
        if not m.previousId:
            errors.append({"loc": [*loc, "previousId"], "msg": "alias needs previousId", "type": "missing"})
        item.previous_id = m.previousId
        return item
    if not (m.userId or m.anonymousId):
        errors.append({"loc": [*loc, "userId"], "msg": "give userId or anonymousId", "type": "missing"})
    if kind == "track":
        if not m.event or not m.event.strip():
            errors.append({"loc": [*loc, "event"], "msg": "track needs an event name", "type": "missing"})
        item.name = (m.event or "").strip()
        problem = control_problem(item.name)
        if problem is not None:
            errors.append({"loc": [*loc, "event"], "msg": problem, "type": "value_error"})
        item.properties = m.properties or {}
    elif kind in EVENT_NAMES:
        item.name = EVENT_NAMES[kind]
        props = dict(m.properties or {})
        if m.name:
            props.setdefault("name", m.name)
        if m.category:
            props.setdefault("category", m.category)
        item.properties = props
    elif kind == "identify":
        traits = m.traits
        if traits is None and m.context and isinstance(m.context.get("traits"), dict):
            traits = m.context["traits"]
        data, bad = traits_to_changes(traits or {}, now)
        for trait, msg in bad:
            where = "traits" if m.traits is not None else "context"
            path = [where, trait] if where == "traits" else ["context", "traits", trait]
            errors.append({"loc": [*loc, *path], "msg": msg, "type": "value_error"})
        item.changes = data
    elif kind == "group":
        if not m.groupId:
            errors.append({"loc": [*loc, "groupId"], "msg": "group needs groupId", "type": "missing"})
        item.changes = {"attributes": {"group": {"id": m.groupId, **(m.traits or {})}}}
    return item


def _ok(result: Any) -> dict[str, Any]:
    """What the call did: ``accepted`` counts the events stored plus the identity calls applied."""
    return {"success": True, "accepted": result.accepted, "duplicates": len(result.duplicates),
            "events": result.events, "identified": result.identified}


async def _single(request: Request, kind: str) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    c = container(request)
    m = parse(ONE, await read_body(request, c.settings.max_body_bytes))
    errors: list[dict[str, Any]] = []
    item = convert(m, kind, 0, c.clock.now(), ["body"], errors)
    if errors:
        raise unprocessable(errors)
    return _ok(await run_in_threadpool(run_ingest, c, [item], "tracking", []))


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


@router.post("/identify", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def identify(request: Request) -> dict[str, Any]:
    """Who the user is: traits update the contact; userId + anonymousId merges the anonymous history."""
    return await _single(request, "identify")


@router.post("/track", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def track(request: Request) -> dict[str, Any]:
    """An event the user did."""
    return await _single(request, "track")


@router.post("/page", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def page(request: Request) -> dict[str, Any]:
    """A page view (stored as the event page.viewed)."""
    return await _single(request, "page")


@router.post("/screen", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def screen(request: Request) -> dict[str, Any]:
    """A mobile screen view (stored as the event screen.viewed)."""
    return await _single(request, "screen")


@router.post("/group", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def group(request: Request) -> dict[str, Any]:
    """The user's account / company: stored as the attribute group {id, ...traits}."""
    return await _single(request, "group")


@router.post("/alias", dependencies=[RequireTrack], openapi_extra=_schema(Message))
async def alias(request: Request) -> dict[str, Any]:
    """previousId and userId are one person: their histories are merged."""
    return await _single(request, "alias")


@router.post(
    "/batch",
    dependencies=[RequireTrack],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["batch"],
                        "properties": {"batch": {"type": "array", "items": Message.model_json_schema()}},
                    }
                }
            },
        }
    },
)
async def batch(request: Request) -> dict[str, Any]:
    """Many calls at once (what the Segment and RudderStack libraries send). All or nothing."""
    from starlette.concurrency import run_in_threadpool

    c = container(request)
    body = parse(MANY, await read_body(request, c.settings.max_body_bytes))
    check_batch_size(c, len(body.batch), ["body", "batch"])
    now = c.clock.now()
    errors: list[dict[str, Any]] = []
    items = []
    for i, m in enumerate(body.batch):
        loc = ["body", "batch", i]
        if m.type is None:
            errors.append({"loc": [*loc, "type"], "msg": "each batch item needs a type", "type": "missing"})
            continue
        items.append(convert(m, m.type, i, now, loc, errors))
    if errors:
        raise unprocessable(errors)
    return _ok(await run_in_threadpool(run_ingest, c, items, "tracking", ["body", "batch"]))
