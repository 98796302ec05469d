"""HTTP routes: messages (outbox rows): status, what was rendered, and what happened since."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireAdmin, RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.delivery import uncertain
from tidings.application.delivery.uncertain import RESENDABLE
from tidings.store.api_reads_sql import SqlApiReads
from tidings.store.uncertain import SqlUncertainMessages

router = APIRouter(prefix="/api/messages", tags=["messages"], route_class=StrictRoute)

_FIELDS = (
    "id",
    "contact_id",
    "kind",
    "channel",
    "category",
    "template",
    "journey_id",
    "journey_version",
    "enrollment_id",
    "step_id",
    "status",
    "attempts",
    "next_attempt_at",
    "recipient",
    "subject",
    "provider_message_id",
    "error",
    "created_at",
    "sent_at",
    "trace_id",
    "idempotency_key",
)


@router.get("", dependencies=[RequireRead])
def list_messages(
    request: Request,
    contact_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = None,
) -> dict[str, Any]:
    filters = {"contact_id": contact_id, "status": status, "channel": channel}
    with container(request).engine.connect() as conn:
        items = SqlApiReads(conn).messages_page(_FIELDS, filters, limit=limit, before=before)
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}


class Resolve(BaseModel):
    """An operator's decision on uncertain messages: ``ids`` or ``all``, never both."""

    ids: list[int] | None = Field(default=None, min_length=1, max_length=10_000)
    all: bool = False
    action: Literal["mark_sent", "resend"]


@router.get("/uncertain", dependencies=[RequireRead])
def list_uncertain(request: Request, limit: int = Query(default=500, ge=1, le=5000)) -> dict[str, Any]:
    """Messages that may or may not have reached their provider, waiting for a decision."""
    c = container(request)
    with c.engine.connect() as conn:
        repo = SqlUncertainMessages(conn)
        items = uncertain.list_uncertain(repo, c.clock.now(), limit=limit)
        total = repo.count_uncertain()
    return {"items": items, "total": total, "warnings": uncertain.WARNINGS}


@router.post("/uncertain/resolve", dependencies=[RequireAdmin])
def resolve_uncertain(body: Resolve, request: Request) -> dict[str, Any]:
    """Mark as sent, or resend, the chosen uncertain messages (or all of them)."""
    if (body.ids is None) == (not body.all):
        raise ApiError(
            422, "validation_error", "give either ids or all: true",
            [{"loc": ["body", "ids"], "msg": "either ids or all: true, not both and not neither"}],
        )
    c = container(request)
    with c.engine.begin() as conn:
        result = uncertain.resolve(
            SqlUncertainMessages(conn), body.action, None if body.all else body.ids, c.clock.now()
        )
    return result.as_dict() | {"warning": uncertain.WARNINGS[body.action]}


@router.get("/{message_id}", dependencies=[RequireRead])
def get_message(message_id: int, request: Request) -> dict[str, Any]:
    """The message, what was sent (rendered), its engagement events and its traces."""
    with container(request).engine.connect() as conn:
        reads = SqlApiReads(conn)
        row = reads.message(message_id)
        if row is None:
            raise ApiError(404, "not_found", f"message {message_id} not found")
        evs = reads.message_events(row["contact_id"], row["created_at"])
        traces = reads.message_traces(row["contact_id"], message_id)
    events = [dict(ev) for ev in evs if (ev["properties"] or {}).get("message_id") == message_id]
    return {k: row[k] for k in _FIELDS} | {
        "payload": row["payload"],
        "rendered": row["rendered"],
        "events": events,
        "traces": [dict(t) for t in traces],
    }


@router.post("/{message_id}/resend", dependencies=[RequireWrite])
def resend(message_id: int, request: Request) -> dict[str, Any]:
    """Queue an ``uncertain`` or ``failed`` message again (an operator's decision: it may arrive twice).

    Atomic: only a row still uncertain or failed goes back to the outbox, once; a sent (or already
    resent) message answers 409."""
    c = container(request)
    with c.engine.begin() as conn:
        refused = uncertain.resend_one(SqlUncertainMessages(conn), message_id, c.clock.now())
    if refused == "missing":
        raise ApiError(404, "not_found", f"message {message_id} not found")
    if refused is not None:
        raise ApiError(
            409,
            "not_resendable",
            f"message {message_id} is {refused}; only {' or '.join(RESENDABLE)} messages can be resent",
            [{"loc": ["path", "message_id"], "msg": f"status is {refused}"}],
        )
    return {"id": message_id, "status": "pending"}
