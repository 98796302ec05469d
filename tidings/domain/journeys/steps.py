"""What each step type does when an enrolment reaches it.

``execute(run, step, visit)`` returns the id of the next step to run, or None when the
enrolment now waits or has ended. Effects carry the idempotency key (enrolment, step, visit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from tidings.domain.analytics.holdout import in_control_group
from tidings.domain.journeys import conditions
from tidings.domain.journeys.behaviour import behaviour as _behaviour
from tidings.domain.journeys.context import scope_value
from tidings.domain.journeys.dates import resolve
from tidings.domain.journeys.effects import (
    AssignOwner,
    CallCrm,
    CallWebhook,
    Conversion,
    CreateTask,
    EnrollOther,
    SendMessage,
    UpdateContact,
)
from tidings.domain.journeys.model import DateSpec, SentRecord, Step
from tidings.domain.journeys.run import Run
from tidings.domain.journeys.series import execute_repeat
from tidings.domain.journeys.timing import (
    allowed_now,
    contact_zone,
    iso,
    next_local_time,
    next_opening,
    parse_clock,
    parse_days,
    parse_duration,
)
from tidings.domain.snapshot import EventRecord
from tidings.domain.statuses import EnrolmentStatus


def _date_spec(raw: dict[str, Any]) -> DateSpec:
    offset = parse_duration(raw.get("offset", 0))
    if "before" in raw:
        offset = -abs(parse_duration(raw["before"]))
    if "after" in raw:
        offset = abs(parse_duration(raw["after"]))
    return DateSpec(
        attribute=raw.get("attribute"),
        variable=raw.get("variable"),
        event=raw.get("event"),
        property=raw.get("property"),
        offset=offset,
        at=raw.get("at"),
        yearly=bool(raw.get("yearly", False)),
    )


# --------------------------------------------------------------------------- send


def _cap_check(run: Run, channel: str, category: str) -> tuple[str, datetime | None, dict[str, Any]] | None:
    """None when the cap allows a send now; else (action, retry_at, detail)."""
    cap = run.doc.settings.frequency_caps.get(channel)
    if cap is None or category != "marketing":
        return None
    since = run.now - cap.per
    times: list[datetime] = []
    if run.ctx.recent_sends is not None:
        times = [
            s.at
            for s in run.ctx.recent_sends
            if s.channel == channel and s.category == "marketing" and s.at > since
        ]
    else:
        times = [
            e.occurred_at
            for e in run.contact.events
            if e.name == "message.sent"
            and e.properties.get("channel") == channel
            and e.properties.get("category", "marketing") == "marketing"
            and e.occurred_at > since
        ]
    times += [
        run.now
        for e in run.effects
        if isinstance(e, SendMessage) and e.channel == channel and e.category == "marketing"
    ]
    if len(times) < cap.max:
        return None
    times.sort()
    retry = times[len(times) - cap.max] + cap.per
    detail = {
        "reason": "frequency_cap",
        "channel": channel,
        "sent_in_window": len(times),
        "max": cap.max,
        "per_seconds": int(cap.per.total_seconds()),
    }
    return cap.action, retry, detail


def _policy_check(run: Run, channel: str, category: str) -> tuple[str, datetime | None, dict[str, Any]] | None:
    """The global send policy (``domain/control/policy.py``), for every journey that is not exempt."""
    policy = run.ctx.policy
    if policy is None:
        return None
    sends = list(run.ctx.recent_sends or ())
    sends += [
        SentRecord(e.channel, run.now, e.category) for e in run.effects if isinstance(e, SendMessage)
    ]
    tz = contact_zone(run.contact, run.doc.settings.timezone)
    return policy.check(sends, run.now, channel, category, tz, exempt=run.doc.settings.exempt_from_caps)


def _send(run: Run, step: Step, visit: int) -> str | None:
    cfg = step.config
    s = run.doc.settings
    channel, template = str(cfg["channel"]), str(cfg["template"])
    category = str(cfg.get("category") or s.category)
    if (s.send_window or s.quiet_hours) and not cfg.get("ignore_window"):
        tz = contact_zone(run.contact, s.timezone)
        window = (s.send_window.days, s.send_window.start, s.send_window.end) if s.send_window else None
        if not allowed_now(run.now, tz, window, s.quiet_hours):
            opening = next_opening(run.now, tz, window, s.quiet_hours)
            run.wait(
                "window", step.id, opening, reason="outside send window or in quiet hours", timezone=str(tz)
            )
            return None
    if s.control_group and in_control_group(run.doc.key, run.contact.id, s.control_group):
        run.note(step.id, "held_out", template=template, channel=channel, control_group=s.control_group)
        return step.edges["next"]
    capped = _cap_check(run, channel, category) or _policy_check(run, channel, category)
    if capped is not None:
        action, retry, detail = capped
        if action == "skip":
            run.note(step.id, "send_skipped", template=template, **detail)
            return step.edges["next"]
        run.wait("cap", step.id, retry, **detail)
        return None
    data = {
        "journey": run.doc.key,
        "version": run.ctx.journey_version,
        "step": step.id,
        "enrollment": run.ctx.enrollment_id,
        "key": run.state.key,
        "variables": dict(run.state.variables),
        **dict(cfg.get("data") or {}),
    }
    run.emit(
        SendMessage(step.id, channel, template, category, run.key(step.id, visit), data),
        "send",
        channel=channel,
        template=template,
        category=category,
        visit=visit,
    )
    run.state.sent[step.id] = iso(run.now)
    return step.edges["next"]


# --------------------------------------------------------------------------- waits


def _wait(run: Run, step: Step, visit: int) -> str | None:
    until = run.now + parse_duration(step.config["duration"])
    run.wait("duration", step.id, until, duration=step.config["duration"])
    return None


#: steps a past date's ``on_past: skip`` passes over after the wait: the action it was timing.
TIMED_ACTIONS = frozenset({"send", "webhook", "crm", "task", "update_contact", "assign_owner", "enroll"})


def replan_date(run: Run, step: Step) -> str | None:
    """Plan (or, while waiting, re-plan after a signal) a wait_until step.

    A missing date goes on at once. A past date follows ``on_past``: ``skip`` (default) passes
    over the wait and the action step it leads to, ``send_now`` goes on at once, and
    ``next_occurrence`` waits for the date's next anniversary. Returns the next step when the
    run goes on now (and is not re-planning)."""
    replanning = run.status == EnrolmentStatus.WAITING
    previous = run.state.waiting.until if replanning and run.state.waiting else None
    spec = _date_spec(step.config["date"])
    tz = run.doc.settings.timezone
    found = resolve(spec, run.contact, run.state.variables, run.now, tz)
    policy = str(step.config.get("on_past", "skip"))
    if found is not None and found[0] <= run.now and policy == "next_occurrence":
        found = resolve(replace(spec, yearly=True), run.contact, run.state.variables, run.now, tz)
    if found is None or found[0] <= run.now:
        reason = "date missing" if found is None else "date passed"
        detail: dict[str, Any] = {"reason": reason, "until": iso(found[0]) if found else None}
        target = step.edges["next"]
        if found is not None:
            detail["on_past"] = policy
            following = run.doc.steps.get(target)
            if policy == "skip" and following is not None and following.type in TIMED_ACTIONS:
                detail["skipped_step"] = following.id
                target = following.edges["next"]
        run.note(step.id, "wait_skipped", date=step.config["date"], **detail)
        if replanning:
            run.resume()
            run.note(step.id, "resume", edge="next", next=target, **detail)
            run.run_from(target)
            return None
        return target
    run.wait("date", step.id, found[0], previous=previous)
    return None


def _wait_until(run: Run, step: Step, visit: int) -> str | None:
    return replan_date(run, step)


def _wait_time(run: Run, step: Step, visit: int) -> str | None:
    clock = parse_clock(step.config["at"])
    assert clock is not None
    tz = contact_zone(run.contact, run.doc.settings.timezone)
    due = next_local_time(run.now, tz, clock, parse_days(step.config.get("days")))
    if due <= run.now:
        return step.edges["next"]
    run.wait("time", step.id, due, at=step.config["at"], timezone=str(tz))
    return None


def _wait_event(run: Run, step: Step, visit: int) -> str | None:
    timeout = step.config.get("timeout")
    until = run.now + parse_duration(timeout) if timeout is not None else None
    run.wait("event", step.id, until, event=str(step.config["event"]))
    return None


def wait_event_matches(run: Run, step: Step, event: EventRecord) -> bool:
    if event.name != step.config["event"]:
        return False
    rule = step.rules.get("where")
    return rule is None or conditions.matches_event(rule, event, run.now)


# --------------------------------------------------------------------------- decisions


def _branch(run: Run, step: Step, visit: int) -> str | None:
    evaluated = []
    for label, rule in step.rules.items():
        if not label.startswith("branch:"):
            continue
        value = run.evaluate(rule)
        evaluated.append({"branch": label, "value": value, "explain": run.explain(rule)})
        if value:
            run.note(step.id, "branch", taken=label, next=step.edges[label], conditions=evaluated)
            return step.edges[label]
    run.note(step.id, "branch", taken="else", next=step.edges["else"], conditions=evaluated)
    return step.edges["else"]


def assignment_point(journey: str, contact_id: int, step_id: str) -> float:
    """A stable number in [0, 1) per (journey, contact, step): sticky, reproducible A/B buckets."""
    digest = hashlib.sha256(f"{journey}:{contact_id}:{step_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _split(run: Run, step: Step, visit: int) -> str | None:
    variants = step.config["variants"]
    point = assignment_point(run.doc.key, run.contact.id, step.id)
    winner = run.ctx.rollouts.get(step.id)
    if winner is not None and f"variant:{winner}" in step.edges:
        # a decided experiment: everyone goes to the winner (the trace says it was a rollout)
        run.state.ab[step.id] = winner
        run.note(step.id, "split", variant=winner, point=round(point, 6), sticky=False, rollout=True)
        return step.edges[f"variant:{winner}"]
    name = run.state.ab.get(step.id)
    if name is None or f"variant:{name}" not in step.edges:
        total = float(sum(v.get("weight", 1) for v in variants))
        acc = 0.0
        name = variants[-1]["name"]
        for v in variants:
            acc += v.get("weight", 1) / total
            if point < acc:
                name = v["name"]
                break
        run.state.ab[step.id] = name
        sticky = False
    else:
        sticky = True
    run.note(
        step.id,
        "split",
        variant=name,
        point=round(point, 6),
        sticky=sticky,
        weights={v["name"]: v.get("weight", 1) for v in variants},
    )
    return step.edges[f"variant:{name}"]


# --------------------------------------------------------------------------- actions


def _update_contact(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    effect = UpdateContact(
        step.id,
        run.key(step.id, visit),
        set_attributes=dict(c.get("set") or {}),
        add_tags=tuple(c.get("add_tags") or ()),
        remove_tags=tuple(c.get("remove_tags") or ()),
        # versions published before the key was named after the field said ``stage``
        stage=c.get("lifecycle_stage", c.get("stage")),
        score_delta=float(c.get("score") or 0),
    )
    run.emit(effect, "update_contact", **effect.payload())
    return step.edges["next"]


def _set_variables(run: Run, step: Step, visit: int) -> str | None:
    values: dict[str, Any] = {}
    for name, value in dict(step.config["set"]).items():
        if isinstance(value, dict):
            values[name] = scope_value(str(value["from"]), run.view, run.scope())
        else:
            values[name] = value
    run.state.variables.update(values)
    run.note(step.id, "set_variables", values=values)
    return step.edges["next"]


def _webhook(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    body = {
        "journey": run.doc.key,
        "step": step.id,
        "contact_id": run.contact.id,
        # which occurrence this call is about (the mention, the order): the enrolment key and
        # the entry event's properties, as a send gives its template
        "key": run.state.key,
        "variables": dict(run.state.variables),
        **dict(c.get("body") or {}),
    }
    effect = CallWebhook(
        step.id,
        str(c["url"]),
        run.key(step.id, visit),
        str(c.get("method", "POST")).upper(),
        body,
        dict(c.get("headers") or {}),
        str(c.get("payload") or "v1"),
        int(c.get("events", 20)),
    )
    run.emit(effect, "webhook", url=effect.url, method=effect.method)
    return step.edges["next"]


def _crm(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    amount = c.get("amount")
    effect = CallCrm(
        step.id,
        str(c["system"]),
        str(c["action"]),
        run.key(step.id, visit),
        properties=dict(c.get("properties") or {}),
        title=str(c.get("title") or ""),
        body=str(c.get("body") or ""),
        due_in=parse_duration(c["due_in"]) if c.get("due_in") is not None else None,
        priority=c.get("priority"),
        deal_name=str(c.get("deal_name") or ""),
        amount=float(amount) if isinstance(amount, int | float) and not isinstance(amount, bool) else None,
        deal_stage=c.get("deal_stage"),
        pipeline=c.get("pipeline"),
        write_back=bool(c.get("write_back", True)),
    )
    run.emit(effect, "crm", system=effect.system, crm_action=effect.action)
    return step.edges["next"]


def _task(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    due = parse_duration(c["due_in"]) if c.get("due_in") is not None else None
    effect = CreateTask(
        step.id,
        str(c["title"]),
        run.key(step.id, visit),
        str(c.get("body") or ""),
        # a step naming a team routes within that team (its own rep for this contact, if any)
        c.get("owner") or (None if c.get("team") else run.contact.owner),
        c.get("team"),
        due,
    )
    run.emit(effect, "task", **effect.payload())
    return step.edges["next"]


def _assign(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    effect = AssignOwner(
        step.id, run.key(step.id, visit), c.get("owner"), c.get("team"), c.get("strategy", "fixed")
    )
    run.emit(effect, "assign_owner", **effect.payload())
    return step.edges["next"]


def _enroll(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    key = str(c["key"]) if c.get("key") is not None else run.state.key
    effect = EnrollOther(step.id, str(c["journey"]), run.key(step.id, visit), key)
    run.emit(effect, "enroll", journey=effect.journey_key, key=key)
    return step.edges["next"]


def _goal(run: Run, step: Step, visit: int) -> str | None:
    c = step.config
    revenue = c.get("revenue")
    effect = Conversion(
        step.id,
        run.key(step.id, visit),
        str(c.get("goal") or step.id),
        float(revenue) if isinstance(revenue, int | float) else None,
    )
    run.emit(effect, "conversion", goal=effect.goal, revenue=effect.revenue)
    run.end("converted", step.id, goal=effect.goal)
    return None


def _exit(run: Run, step: Step, visit: int) -> str | None:
    run.end("exited", step.id, why=step.config.get("reason") or "exit step")
    return None


HANDLERS: dict[str, Callable[[Run, Step, int], str | None]] = {
    "send": _send,
    "wait": _wait,
    "wait_until": _wait_until,
    "wait_time": _wait_time,
    "wait_event": _wait_event,
    "branch": _branch,
    "behaviour": _behaviour,
    "split": _split,
    "update_contact": _update_contact,
    "set_variables": _set_variables,
    "repeat": execute_repeat,
    "webhook": _webhook,
    "crm": _crm,
    "task": _task,
    "assign_owner": _assign,
    "enroll": _enroll,
    "goal": _goal,
    "exit": _exit,
}


def execute(run: Run, step: Step, visit: int) -> str | None:
    return HANDLERS[step.type](run, step, visit)
