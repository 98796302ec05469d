"""The ``behaviour`` step: did the contact act on an earlier message within a window (counted
from the send, the delivery or the first human open), and the re-planning of that window.
Pure; ``steps.py`` runs it, ``machine.py`` resumes it on events and timers."""

from __future__ import annotations

from datetime import datetime

from tidings.domain.journeys.model import Step
from tidings.domain.journeys.run import Run
from tidings.domain.journeys.timing import from_iso, iso, parse_duration
from tidings.domain.snapshot import EventRecord


def _behaviour_window(run: Run, step: Step) -> tuple[datetime, datetime] | None:
    """[start, end] of a behaviour window. ``from: delivered | first_open`` counts from that
    event of the message; until it is seen, the window counts from the send."""
    sent = run.state.sent.get(str(step.config["message"]))
    if sent is None:
        return None
    start = from_iso(sent)
    anchor = str(step.config.get("from", "sent"))
    if anchor != "sent":
        name = "message.delivered" if anchor == "delivered" else "message.opened"
        seen = [e.occurred_at for e in run.view.events if _of_message(run, step, e, name) and e.occurred_at >= start]
        if seen:
            start = min(seen)
    return start, start + parse_duration(step.config["within"])


def _of_message(run: Run, step: Step, event: EventRecord, name: str) -> bool:
    """``event`` is ``name`` about the message of ``step`` in this journey, made by a person."""
    props = event.properties
    return (
        event.name == name
        and props.get("step") == step.config["message"]
        and props.get("journey", run.doc.key) in (run.doc.key, run.ctx.journey_id)
        and not props.get("machine")
    )


def replan_behaviour(run: Run, step: Step) -> bool:
    """While a behaviour step waits: move its timer when the window's start moved (the delivery
    or the first open was seen). True when it was re-planned."""
    window = _behaviour_window(run, step)
    waiting = run.state.waiting
    if window is None or waiting is None or waiting.until == iso(window[1]) or window[1] <= run.now:
        return False
    run.wait(
        "behaviour",
        step.id,
        window[1],
        behaviour=step.config["action"],
        message=step.config["message"],
        window_from=step.config.get("from", "sent"),
        previous=waiting.until,
    )
    return True


def behaviour_matches(run: Run, step: Step, event: EventRecord) -> bool:
    window = _behaviour_window(run, step)
    if window is None or not (window[0] <= event.occurred_at <= window[1]):
        return False
    action = step.config["action"]
    if action == "converted":
        names = (
            {step.config["event"]} if step.config.get("event") else {c.event for c in run.doc.settings.goal if c.event}
        )
        return event.name in names
    return _of_message(run, step, event, f"message.{action}")


def behaviour_outcome(run: Run, step: Step) -> bool:
    return any(behaviour_matches(run, step, e) for e in run.view.events)


def behaviour(run: Run, step: Step, visit: int) -> str | None:
    window = _behaviour_window(run, step)
    if window is None:
        run.note(
            step.id,
            "behaviour",
            outcome="else",
            reason="message was not sent",
            message=step.config["message"],
        )
        return step.edges["else"]
    if behaviour_outcome(run, step):
        run.note(step.id, "behaviour", outcome="then", behaviour=step.config["action"], found=True)
        return step.edges["then"]
    if run.now >= window[1]:
        run.note(step.id, "behaviour", outcome="else", behaviour=step.config["action"], found=False)
        return step.edges["else"]
    run.wait("behaviour", step.id, window[1], behaviour=step.config["action"], message=step.config["message"])
    return None
