""" "Why did this contact get this?", answered from the trace.

Every message's outbox row points at the trace entry that emitted it (``outbox.trace_id``);
that entry names the journey, version, step and stimulus, and the enrolment's earlier trace
entries give the path that led there (trigger and event, waits, branch conditions with their
values, splits). Changes made by journeys (attributes, tags, owner, enrolments, exits) are
trace entries too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tidings.store import schema

#: trace actions that are "changes" worth listing beside messages.
CHANGE_ACTIONS = (
    "entered",
    "ended",
    "update_contact",
    "assign_owner",
    "task",
    "webhook",
    "enroll",
    "enrolled_by",
    "conversion",
    "entry_refused",
    "error",
    "migrated",
    "signal",
    "split",
    "send_skipped",
)
PATH_LIMIT = 100


class WhyNotFound(LookupError):
    pass


def _trace_dict(r: Mapping[Any, Any], keys: Mapping[int, str]) -> dict[str, Any]:
    return {
        "trace_id": r["id"],
        "at": r["at"].isoformat(),
        "journey": keys.get(r["journey_id"]) if r["journey_id"] is not None else None,
        "version": r["journey_version"],
        "enrollment_id": r["enrollment_id"],
        "step": r["step_id"],
        "stimulus": r["stimulus"],
        "action": r["action"],
        "detail": r["detail"],
        "message_id": r["outbox_id"],
    }


def _journey_keys(conn: sa.Connection) -> dict[int, str]:
    j = schema.journeys
    return {int(i): str(k) for i, k in conn.execute(sa.select(j.c.id, j.c.key))}


def _path(
    conn: sa.Connection, enrollment_id: int | None, upto: int, keys: Mapping[int, str]
) -> list[dict[str, Any]]:
    if enrollment_id is None:
        return []
    t = schema.traces
    rows = (
        conn.execute(
            sa.select(t)
            .where(t.c.enrollment_id == enrollment_id, t.c.id <= upto)
            .order_by(t.c.id.desc())
            .limit(PATH_LIMIT)
        )
        .mappings()
        .all()
    )
    return [_trace_dict(r, keys) for r in reversed(rows)]


def _message(
    conn: sa.Connection, o: Mapping[Any, Any], keys: Mapping[int, str], with_path: bool
) -> dict[str, Any]:
    t = schema.traces
    trace = None
    if o["trace_id"] is not None:
        trace = conn.execute(sa.select(t).where(t.c.id == o["trace_id"])).mappings().first()
    out: dict[str, Any] = {
        "message_id": o["id"],
        "kind": o["kind"],
        "channel": o["channel"],
        "template": o["template"],
        "status": o["status"],
        "created_at": o["created_at"].isoformat(),
        "sent_at": o["sent_at"].isoformat() if o["sent_at"] else None,
        "journey": keys.get(o["journey_id"]) if o["journey_id"] is not None else None,
        "version": o["journey_version"],
        "enrollment_id": o["enrollment_id"],
        "step": o["step_id"],
        "idempotency_key": o["idempotency_key"],
        "stimulus": trace["stimulus"] if trace else None,
        "trace": _trace_dict(trace, keys) if trace else None,
    }
    if with_path and trace is not None:
        out["path"] = _path(conn, o["enrollment_id"], int(trace["id"]), keys)
        out["explanation"] = explain(out)
    return out


def explain(message: Mapping[Any, Any]) -> str:
    """One readable sentence from a message and its path."""
    parts = [
        f"{message['channel'] or message['kind']} '{message['template'] or message['step']}' was sent by "
        f"journey '{message['journey']}' v{message['version']}, step '{message['step']}'"
    ]
    path = message.get("path") or []
    entered = next((p for p in path if p["action"] == "entered"), None)
    if entered:
        d = entered["detail"] or {}
        ev = (d.get("event") or {}).get("name")
        parts.append(f"after entering via trigger #{d.get('trigger')}" + (f" (event '{ev}')" if ev else ""))
    decisions = [p for p in path if p["action"] in ("branch", "split", "behaviour", "resume", "wait")]
    if decisions:
        last = decisions[-1]
        parts.append(f"last decision: {last['action']} at '{last['step']}' on {last['stimulus']}")
    return "; ".join(parts) + "."


def why(
    conn: sa.Connection, contact_id: int, message_id: int | None = None, limit: int = 200
) -> dict[str, Any]:
    c, o, t = schema.contacts, schema.outbox, schema.traces
    if conn.execute(sa.select(c.c.id).where(c.c.id == contact_id)).first() is None:
        raise WhyNotFound(f"no contact {contact_id}")
    keys = _journey_keys(conn)
    if message_id is not None:
        row = (
            conn.execute(sa.select(o).where(o.c.id == message_id, o.c.contact_id == contact_id))
            .mappings()
            .first()
        )
        if row is None:
            raise WhyNotFound(f"contact {contact_id} has no message {message_id}")
        message = _message(conn, row, keys, with_path=True)
        message["conversions"] = [
            c for c in conversions(conn, contact_id, keys) if (c["attributed_to"] or {}).get("message_id") == message_id
        ]
        return {"contact_id": contact_id, "message": message}
    messages = [
        _message(conn, r, keys, with_path=False)
        for r in conn.execute(
            sa.select(o).where(o.c.contact_id == contact_id).order_by(o.c.id.desc()).limit(limit)
        ).mappings()
    ]
    changes = [
        _trace_dict(r, keys)
        for r in conn.execute(
            sa.select(t)
            .where(t.c.contact_id == contact_id, t.c.action.in_(CHANGE_ACTIONS))
            .order_by(t.c.id.desc())
            .limit(limit)
        ).mappings()
    ]
    e = schema.enrollments
    enrollments = [
        {
            "enrollment_id": r["id"],
            "journey": keys.get(r["journey_id"]),
            "version": r["version"],
            "key": r["enroll_key"],
            "status": r["status"],
            "end_reason": r["end_reason"],
            "step": r["step_id"],
            "entered_at": r["entered_at"].isoformat(),
        }
        for r in conn.execute(sa.select(e).where(e.c.contact_id == contact_id).order_by(e.c.id)).mappings()
    ]
    return {
        "contact_id": contact_id,
        "messages": list(reversed(messages)),
        "changes": list(reversed(changes)),
        "enrollments": enrollments,
        "conversions": conversions(conn, contact_id, keys, limit),
    }


def conversions(
    conn: sa.Connection, contact_id: int, keys: Mapping[int, str] | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The contact's conversions, oldest first, each with the message it is credited to.

    - ``journey_goal``: a journey's goal reached (a ``journey.converted`` event); its credit was
      recorded with it when the engine converted the enrolment;
    - ``revenue_event``: any other event carrying a numeric ``revenue`` property (an order
      reported outside a journey goal); credited by the same rule when read (the rule only looks
      at clicks before the event, so the answer does not change later).
    The rule: the last human click within 7 days (``store/attribution.attribute_conversion``).
    """
    from tidings.store.attribution import credit

    keys = keys if keys is not None else _journey_keys(conn)
    e = schema.events
    rows = (
        conn.execute(
            sa.select(e.c.id, e.c.name, e.c.properties, e.c.occurred_at, e.c.value)
            .where(
                e.c.contact_id == contact_id,
                sa.or_(
                    e.c.name == "journey.converted",
                    sa.and_(
                        e.c.value.is_not(None),
                        sa.not_(e.c.name.like("message.%")),
                        sa.not_(e.c.name.like("journey.%")),
                    ),
                ),
            )
            .order_by(e.c.occurred_at.desc(), e.c.id.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    out = []
    for r in reversed(rows):
        props = r["properties"] or {}
        if r["name"] == "journey.converted":
            out.append(
                {
                    "event_id": r["id"],
                    "kind": "journey_goal",
                    "name": r["name"],
                    "at": r["occurred_at"].isoformat(),
                    "journey": props.get("journey"),
                    "step": props.get("step"),
                    "enrollment_id": props.get("enrollment"),
                    "revenue": props.get("revenue"),
                    "attributed_to": props.get("attributed_to"),
                }
            )
        elif isinstance(props.get("revenue"), int | float) and not isinstance(props.get("revenue"), bool):
            out.append(
                {
                    "event_id": r["id"],
                    "kind": "revenue_event",
                    "name": r["name"],
                    "at": r["occurred_at"].isoformat(),
                    "journey": None,
                    "step": None,
                    "enrollment_id": None,
                    "revenue": float(props["revenue"]),
                    "attributed_to": credit(conn, contact_id, r["occurred_at"]),
                }
            )
    return out
