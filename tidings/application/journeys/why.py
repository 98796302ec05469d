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

from tidings.application.ports.journeys import MessageTraces

#: trace actions that are "changes" worth listing beside messages.
CHANGE_ACTIONS = (
    "entered",
    "ended",
    "update_contact",
    "assign_owner",
    "task",
    "webhook",
    "crm",
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


def _path(
    traces: MessageTraces, enrollment_id: int | None, upto: int, keys: Mapping[int, str]
) -> list[dict[str, Any]]:
    if enrollment_id is None:
        return []
    return [_trace_dict(r, keys) for r in reversed(traces.path(enrollment_id, upto, PATH_LIMIT))]


def _message(
    traces: MessageTraces, o: Mapping[Any, Any], keys: Mapping[int, str], with_path: bool
) -> dict[str, Any]:
    trace = traces.trace(int(o["trace_id"])) if o["trace_id"] is not None else None
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
        out["path"] = _path(traces, o["enrollment_id"], int(trace["id"]), keys)
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
    traces: MessageTraces, contact_id: int, message_id: int | None = None, limit: int = 200
) -> dict[str, Any]:
    if not traces.contact_exists(contact_id):
        raise WhyNotFound(f"no contact {contact_id}")
    keys = traces.journey_keys()
    if message_id is not None:
        row = traces.message(contact_id, message_id)
        if row is None:
            raise WhyNotFound(f"contact {contact_id} has no message {message_id}")
        message = _message(traces, row, keys, with_path=True)
        message["conversions"] = [
            c
            for c in conversions(traces, contact_id)
            if (c["attributed_to"] or {}).get("message_id") == message_id
        ]
        return {"contact_id": contact_id, "message": message}
    messages = [_message(traces, r, keys, with_path=False) for r in traces.messages(contact_id, limit)]
    changes = [_trace_dict(r, keys) for r in traces.changes(contact_id, CHANGE_ACTIONS, limit)]
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
        for r in traces.enrollments(contact_id)
    ]
    return {
        "contact_id": contact_id,
        "messages": list(reversed(messages)),
        "changes": list(reversed(changes)),
        "enrollments": enrollments,
        "conversions": conversions(traces, contact_id, limit),
    }


def conversions(traces: MessageTraces, contact_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The contact's conversions, oldest first, each with the message it is credited to.

    - ``journey_goal``: a journey's goal reached (a ``journey.converted`` event); its credit was
      recorded with it when the engine converted the enrolment;
    - ``revenue_event``: any other event carrying a numeric ``revenue`` property (an order
      reported outside a journey goal); credited by the same rule when read (the rule only looks
      at clicks before the event, so the answer does not change later).
    The rule: the last human click within 7 days (``MessageTraces.credit``).
    """
    rows = traces.conversion_events(contact_id, limit)
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
                    "attributed_to": traces.credit(contact_id, r["occurred_at"]),
                }
            )
    return out
