"""A journey's trace as sentences a marketer reads: "Entered *Abandoned cart* v3 because *Cart
Abandoned* happened at 14:02", "Waited 1h", "Sent *Cart reminder 1* by email"…

Pure and translatable: each trace entry becomes a :class:`Phrase`, a gettext message id with
named placeholders (``N_`` marks them for ``pybabel extract``) and its values. Times and amounts
stay typed (:class:`Moment`, :class:`Amount`) so the adapter showing the phrase formats them in
the viewer's language, time zone and the event's currency; the adapter also translates the
message. Unknown actions get a generic phrase: a new trace kind never breaks a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    """Marks a message id for extraction; the adapter translates it when it shows the phrase."""
    return message


@dataclass(frozen=True)
class Moment:
    """A point in time (ISO 8601, UTC) to show in the viewer's zone."""

    iso: str


@dataclass(frozen=True)
class Amount:
    """Money in its currency (None: a plain number)."""

    value: float
    currency: str | None = None


@dataclass(frozen=True)
class Phrase:
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)


def _event_name(detail: Mapping[str, Any]) -> str | None:
    ev = detail.get("event")
    if isinstance(ev, Mapping):
        name = ev.get("name")
        return str(name) if name else None
    return str(ev) if ev else None


def _entered(d: Mapping[str, Any], journey: str, version: Any) -> Phrase:
    values: dict[str, Any] = {"journey": journey, "version": version if version is not None else d.get("version")}
    name = _event_name(d)
    raw = d.get("event")
    ev: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if name and ev.get("at"):
        return Phrase(
            N_("Entered %(journey)s v%(version)s because %(event)s happened at %(when)s"),
            {**values, "event": name, "when": Moment(str(ev["at"]))},
        )
    if name:
        return Phrase(N_("Entered %(journey)s v%(version)s because %(event)s happened"), {**values, "event": name})
    return Phrase(N_("Entered %(journey)s v%(version)s"), values)


_WAITS = {
    "duration": N_("Waits %(duration)s, until %(until)s"),
    "event": N_("Waits for %(event)s, until %(until)s"),
    "behaviour": N_("Waits to see whether the contact does %(behaviour)s, until %(until)s"),
    "date": N_("Waits until %(until)s"),
    "time": N_("Waits until %(until)s"),
    "cap": N_("Held by a send cap or quiet hours, until %(until)s"),
}


def _wait(d: Mapping[str, Any]) -> Phrase:
    until = d.get("until")
    values: dict[str, Any] = {
        "until": Moment(str(until)) if until else "—",
        "duration": d.get("duration") or "",
        "event": d.get("event") or "",
        "behaviour": d.get("behaviour") or "",
    }
    message = _WAITS.get(str(d.get("kind")), N_("Waits until %(until)s"))
    return Phrase(message, values)


def _branch(d: Mapping[str, Any], step: str) -> Phrase:
    taken = str(d.get("taken") or "else")
    if taken == "else":
        return Phrase(N_("At %(step)s no condition held: took the otherwise path"), {"step": step})
    return Phrase(N_("At %(step)s the condition of %(branch)s held: took it"), {"step": step, "branch": taken})


def _behaviour(d: Mapping[str, Any], step: str) -> Phrase:
    if d.get("outcome") == "then":
        return Phrase(
            N_("At %(step)s the contact did %(behaviour)s: took the yes path"),
            {"step": step, "behaviour": d.get("behaviour") or ""},
        )
    if d.get("reason"):
        return Phrase(N_("At %(step)s the message was not sent: took the no path"), {"step": step})
    return Phrase(
        N_("At %(step)s the contact did not do %(behaviour)s in time: took the no path"),
        {"step": step, "behaviour": d.get("behaviour") or ""},
    )


def _split(d: Mapping[str, Any]) -> Phrase:
    variant = d.get("variant") or ""
    if d.get("rollout"):
        return Phrase(N_("Went to variant %(variant)s, the experiment's winner"), {"variant": variant})
    if d.get("sticky"):
        return Phrase(N_("Stayed in variant %(variant)s"), {"variant": variant})
    return Phrase(N_("Was assigned variant %(variant)s"), {"variant": variant})


def _update(d: Mapping[str, Any]) -> Phrase:
    bits: list[str] = []
    for k, v in (d.get("set") or d.get("set_attributes") or {}).items():
        bits.append(f"{k} = {v}")
    for t in d.get("add_tags") or ():
        bits.append(f"+{t}")
    for t in d.get("remove_tags") or ():
        bits.append(f"−{t}")
    if d.get("stage"):
        bits.append(f"lifecycle_stage = {d['stage']}")
    if d.get("score_delta"):
        bits.append(f"score {float(d['score_delta']):+g}")
    return Phrase(N_("Updated the contact: %(changes)s"), {"changes": ", ".join(bits) or "—"})


def _conversion(d: Mapping[str, Any], currency: str | None) -> Phrase:
    try:
        revenue = float(d.get("revenue") or 0)
    except (TypeError, ValueError):
        revenue = 0.0
    if revenue:
        return Phrase(
            N_("Converted: reached the goal %(goal)s, worth %(revenue)s"),
            {"goal": d.get("goal") or "", "revenue": Amount(revenue, currency)},
        )
    return Phrase(N_("Converted: reached the goal %(goal)s"), {"goal": d.get("goal") or ""})


def _resume(d: Mapping[str, Any]) -> Phrase:
    edge = str(d.get("edge") or "")
    if edge == "then":
        return Phrase(N_("The contact did it: moved on to %(next)s"), {"next": d.get("next") or "—"})
    if edge == "else":
        return Phrase(N_("Not done in time: moved on to %(next)s"), {"next": d.get("next") or "—"})
    if edge == "retry":
        return Phrase(N_("Tried %(step)s again"), {"step": d.get("next") or "—"})
    if edge in ("timeout", "on_timeout"):
        return Phrase(N_("Waited long enough: moved on to %(next)s"), {"next": d.get("next") or "—"})
    if edge in ("event", "on_event"):
        return Phrase(N_("The awaited event came: moved on to %(next)s"), {"next": d.get("next") or "—"})
    return Phrase(N_("The wait was over: moved on to %(next)s"), {"next": d.get("next") or "—"})


def phrase(entry: Mapping[str, Any], *, journey: str = "", currency: str | None = None) -> Phrase:
    """One trace entry (``action``, ``step``, ``detail``, ``version``) as a sentence."""
    action = str(entry.get("action") or "")
    d: Mapping[str, Any] = entry.get("detail") or {}
    step = str(entry.get("step") or "")
    if action == "entered":
        return _entered(d, journey, entry.get("version"))
    if action == "wait":
        return _wait(d)
    if action == "resume":
        return _resume(d)
    if action == "send":
        return Phrase(
            N_("Sent %(template)s by %(channel)s"),
            {"template": d.get("template") or step, "channel": d.get("channel") or ""},
        )
    if action == "send_skipped":
        return Phrase(
            N_("Did not send %(template)s: %(reason)s"),
            {"template": d.get("template") or step, "reason": d.get("reason") or "—"},
        )
    if action == "held_out":
        return Phrase(N_("Held out of %(template)s: in the control group"), {"template": d.get("template") or step})
    if action == "branch":
        return _branch(d, step)
    if action == "behaviour":
        return _behaviour(d, step)
    if action == "split":
        return _split(d)
    if action == "update_contact":
        return _update(d)
    if action == "task":
        return Phrase(N_("Created the task %(title)s"), {"title": d.get("title") or step})
    if action == "crm":
        return Phrase(
            N_("Handed off to %(system)s (%(action)s)"),
            {"system": d.get("system") or "", "action": d.get("crm_action") or ""},
        )
    if action == "webhook":
        return Phrase(N_("Called the webhook %(url)s"), {"url": d.get("url") or ""})
    if action == "assign_owner":
        return Phrase(
            N_("Assigned an owner (%(how)s)"), {"how": d.get("owner") or d.get("team") or d.get("strategy") or "—"}
        )
    if action == "enroll":
        return Phrase(N_("Enrolled the contact in %(journey)s"), {"journey": d.get("journey") or ""})
    if action == "conversion":
        return _conversion(d, currency)
    if action == "signal":
        return Phrase(N_("Received the signal %(signal)s"), {"signal": d.get("signal") or ""})
    if action == "ended":
        return Phrase(N_("Left the journey: %(reason)s"), {"reason": d.get("reason") or "—"})
    if action == "wait_skipped":
        return Phrase(N_("Did not wait at %(step)s: %(reason)s"), {"step": step, "reason": d.get("reason") or "—"})
    return Phrase(N_("%(action)s at %(step)s"), {"action": action.replace("_", " "), "step": step or "—"})


def event_currency(path: Sequence[Mapping[str, Any]]) -> str | None:
    """The currency named by the entry event's properties (``currency``), if any."""
    for entry in path:
        d = entry.get("detail") or {}
        ev = d.get("event") if isinstance(d, Mapping) else None
        if isinstance(ev, Mapping):
            props = ev.get("properties") or {}
            cur = props.get("currency") if isinstance(props, Mapping) else None
            if isinstance(cur, str) and len(cur) == 3 and cur.isalpha():
                return cur.upper()
    return None


def narrate(path: Sequence[Mapping[str, Any]], *, journey: str = "") -> list[Phrase]:
    """The path of an enrolment as sentences, in order; money in the entry event's currency."""
    currency = event_currency(path)
    return [phrase(entry, journey=journey, currency=currency) for entry in path]


def narrate_entries(
    entries: Sequence[tuple[Any, Any]], *, journey: str = "", version: Any = None
) -> list[tuple[Any, Phrase]]:
    """``(at, trace entry)`` pairs (a simulation's trace: entries with ``step_id``, ``action`` and
    ``detail``) as ``(at, sentence)`` pairs."""
    path = [
        {"action": e.action, "step": e.step_id, "detail": dict(e.detail or {}), "version": version}
        for _, e in entries
    ]
    return [(at, p) for (at, _), p in zip(entries, narrate(path, journey=journey), strict=True)]
