"""HTTP routes: messages (outbox rows): status, what was rendered, and what happened since."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.store import schema

router = APIRouter(prefix="/api/messages", tags=["messages"], route_class=StrictRoute)
o = schema.outbox
#: statuses an operator may send again.
RESENDABLE = ("uncertain", "failed")

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
    q = sa.select(*(o.c[f] for f in _FIELDS)).order_by(o.c.id.desc()).limit(limit)
    for col, value in (("contact_id", contact_id), ("status", status), ("channel", channel)):
        if value is not None:
            q = q.where(o.c[col] == value)
    if before:
        q = q.where(o.c.id < before)
    with container(request).engine.connect() as conn:
        items = [dict(r) for r in conn.execute(q).mappings()]
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}


@router.get("/{message_id}", dependencies=[RequireRead])
def get_message(message_id: int, request: Request) -> dict[str, Any]:
    """The message, what was sent (rendered), its engagement events and its traces."""
    with container(request).engine.connect() as conn:
        row = conn.execute(sa.select(o).where(o.c.id == message_id)).mappings().first()
        if row is None:
            raise ApiError(404, "not_found", f"message {message_id} not found")
        e = schema.events
        evs = (
            conn.execute(
                sa.select(e.c.id, e.c.name, e.c.properties, e.c.occurred_at)
                .where(
                    e.c.contact_id == row["contact_id"],
                    e.c.name.like("message.%"),
                    e.c.occurred_at >= row["created_at"],
                )
                .order_by(e.c.id)
            )
            .mappings()
            .all()
        )
        tr = schema.traces
        traces = (
            conn.execute(
                sa.select(tr.c.id, tr.c.action, tr.c.detail, tr.c.stimulus, tr.c.at)
                .where(tr.c.contact_id == row["contact_id"], tr.c.outbox_id == message_id)
                .order_by(tr.c.id)
            )
            .mappings()
            .all()
        )
    events = [dict(ev) for ev in evs if (ev["properties"] or {}).get("message_id") == message_id]
    return {k: row[k] for k in _FIELDS} | {
        "payload": row["payload"],
        "rendered": row["rendered"],
        "events": events,
        "traces": [dict(t) for t in traces],
    }


@router.post("/{message_id}/resend", dependencies=[RequireWrite])
def resend(message_id: int, request: Request) -> dict[str, Any]:
    """Queue an ``uncertain`` or ``failed`` message again (an operator's decision: it may arrive twice)."""
    c = container(request)
    with c.engine.begin() as conn:
        row = conn.execute(sa.select(o.c.status).where(o.c.id == message_id)).first()
        if row is None:
            raise ApiError(404, "not_found", f"message {message_id} not found")
        if row[0] not in RESENDABLE:
            raise ApiError(
                409,
                "not_resendable",
                f"message {message_id} is {row[0]}; only {' or '.join(RESENDABLE)} messages can be resent",
                [{"loc": ["path", "message_id"], "msg": f"status is {row[0]}"}],
            )
        conn.execute(
            sa.update(o)
            .where(o.c.id == message_id)
            .values(
                status="pending",
                next_attempt_at=c.clock.now(),
                lease_owner=None,
                lease_until=None,
                error=f"resent by an operator (was {row[0]})",
            )
        )
    return {"id": message_id, "status": "pending"}
