"""Parsing one journey step per type: required fields, edges (with defaults to the following
step), parsed conditions. Graph-wide checks live in ``validate.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from tidings.domain.experiments.spec import check_experiment
from tidings.domain.journeys.context import name_problem, source_problem
from tidings.domain.journeys.docfields import (
    ACTIONS,
    CHANNELS,
    COMMON_FIELDS,
    CRM_ACTIONS,
    CRM_PRIORITIES,
    CRM_SYSTEMS,
    ON_PAST,
    STEP_FIELDS,
    STEP_ID_RE,
    WEBHOOK_PAYLOADS,
    WINDOW_FROM,
    Problems,
    check_date_spec,
    check_duration,
    check_rule,
    check_target,
    need,
)
from tidings.domain.journeys.model import END, STEP_TYPES, Step
from tidings.domain.journeys.series import parse_period
from tidings.domain.journeys.signalnames import SIGNAL_RE, as_event_name
from tidings.domain.journeys.timing import parse_clock, parse_days
from tidings.domain.journeys.yamlines import line_of, plain


def parse_steps(raw: Any, data: Any, p: Problems) -> tuple[dict[str, Step], list[str]]:
    if not isinstance(raw, list) or not raw:
        p.add("steps: a non-empty list", line_of(data, "steps") or 1, path="steps")
        return {}, []
    ids: list[str] = []
    for i, s in enumerate(raw):
        sid = s.get("id") if isinstance(s, Mapping) else None
        ids.append(sid if isinstance(sid, str) else f"#{i}")
    steps: dict[str, Step] = {}
    order: list[str] = []
    for i, s in enumerate(raw):
        line = line_of(s) or line_of(raw)
        path = f"steps.{i}"
        if not isinstance(s, Mapping):
            p.add("a step is a mapping with id and type", line, None, path)
            continue
        sid = s.get("id")
        if not isinstance(sid, str) or not STEP_ID_RE.match(sid) or sid == END:
            p.add(
                "every step needs a stable id (letters, digits, _ . -; not 'end')", line, None, path + ".id"
            )
            continue
        if sid in steps:
            p.add("duplicate step id", line, sid, path + ".id")
            continue
        stype = s.get("type")
        if stype == "behavior":
            stype = "behaviour"
        if stype not in STEP_TYPES:
            p.add(
                f"unknown step type {stype!r} (one of {', '.join(sorted(STEP_TYPES))})",
                line,
                sid,
                path + ".type",
            )
            continue
        for k in s:
            if k not in COMMON_FIELDS and k not in STEP_FIELDS[stype]:
                hint = " (the contact field is lifecycle_stage: write lifecycle_stage)" if k == "stage" else ""
                p.add(f"unknown field {k!r} for a {stype} step{hint}", line_of(s, k) or line, sid, f"{path}.{k}")
        following = ids[i + 1] if i + 1 < len(ids) else END
        step = parse_step(sid, stype, s, line, following, p, path)
        steps[sid] = step
        order.append(sid)
    return steps, order


def parse_step(
    sid: str, stype: str, s: Mapping[str, Any], line: int | None, following: str, p: Problems, path: str
) -> Step:
    edges: dict[str, str] = {}
    rules: dict[str, Any] = {}
    #: config computed from the document (a signal wait waits for the event ``signal.NAME``).
    derived: dict[str, Any] = {}

    def fl(k: str) -> int | None:
        return line_of(s, k) or line

    if "next" in STEP_FIELDS[stype]:
        edges["next"] = check_target(s.get("next", following), p, fl("next"), sid, "next")
    if stype == "send":
        channel = need(s, "channel", p, line, sid, path)
        if channel is not None and channel not in CHANNELS:
            p.add(f"unknown channel {channel!r}", fl("channel"), sid, path + ".channel")
        need(s, "template", p, line, sid, path)
        if s.get("category", "marketing") not in ("marketing", "transactional"):
            p.add("category is marketing or transactional", fl("category"), sid, path + ".category")
    elif stype == "wait":
        check_duration(need(s, "duration", p, line, sid, path), p, fl("duration"), sid, path + ".duration")
    elif stype == "wait_until":
        check_date_spec(need(s, "date", p, line, sid, path), p, fl("date"), sid, path + ".date")
        if s.get("on_past", "skip") not in ON_PAST:
            p.add(f"on_past is one of {', '.join(ON_PAST)}", fl("on_past"), sid, path + ".on_past")
    elif stype == "wait_time":
        try:
            parse_clock(need(s, "at", p, line, sid, path))
            parse_days(s.get("days"))
        except ValueError as exc:
            p.add(str(exc), fl("at"), sid, path)
    elif stype == "wait_event":
        signal = s.get("signal")
        if ("event" in s) == (signal is not None):
            p.add("a wait_event waits for exactly one of event or signal", line, sid, path)
        elif signal is not None and not (isinstance(signal, str) and SIGNAL_RE.match(signal)):
            p.add(f"bad signal name {signal!r} (lowercase letters, digits, _ . -)", fl("signal"), sid, path + ".signal")
        elif signal is not None:
            derived["event"] = as_event_name(signal)
        else:
            need(s, "event", p, line, sid, path)
        if s.get("where") is not None:
            rules["where"] = check_rule(s["where"], p, fl("where"), sid, path + ".where", "event")
        if s.get("timeout") is not None:
            check_duration(s["timeout"], p, fl("timeout"), sid, path + ".timeout")
            edges["timeout"] = check_target(
                s.get("on_timeout", edges["next"]), p, fl("on_timeout"), sid, "on_timeout"
            )
        edges["event"] = check_target(s.get("on_event", edges["next"]), p, fl("on_event"), sid, "on_event")
        del edges["next"]
    elif stype == "branch":
        branches = s.get("branches")
        if not isinstance(branches, list) or not branches:
            p.add("branches: a list of {when: rule, next: step}", fl("branches"), sid, path + ".branches")
            branches = []
        for j, b in enumerate(branches):
            bline = line_of(b) or fl("branches")
            if not isinstance(b, Mapping) or "when" not in b or "next" not in b:
                p.add("a branch is {when: rule, next: step}", bline, sid, f"{path}.branches.{j}")
                continue
            rules[f"branch:{j}"] = check_rule(b["when"], p, bline, sid, f"{path}.branches.{j}.when")
            edges[f"branch:{j}"] = check_target(b["next"], p, bline, sid, f"branches.{j}.next")
        edges["else"] = check_target(s.get("else", following), p, fl("else"), sid, "else")
    elif stype == "behaviour":
        need(s, "message", p, line, sid, path)
        action = need(s, "action", p, line, sid, path)
        if action is not None and action not in ACTIONS:
            p.add(f"action is one of {sorted(ACTIONS)}", fl("action"), sid, path + ".action")
        check_duration(need(s, "within", p, line, sid, path), p, fl("within"), sid, path + ".within")
        if s.get("from", "sent") not in WINDOW_FROM:
            p.add(f"from is one of {', '.join(WINDOW_FROM)}", fl("from"), sid, path + ".from")
        edges["then"] = check_target(need(s, "then", p, line, sid, path), p, fl("then"), sid, "then")
        edges["else"] = check_target(s.get("else", following), p, fl("else"), sid, "else")
    elif stype == "split":
        variants = s.get("variants")
        if not isinstance(variants, list) or len(variants) < 2:
            p.add("variants: at least two {name, weight, next}", fl("variants"), sid, path + ".variants")
            variants = []
        names = set()
        for j, v in enumerate(variants):
            vline = line_of(v) or fl("variants")
            if not isinstance(v, Mapping) or not isinstance(v.get("name"), str) or "next" not in v:
                p.add("a variant is {name, weight, next}", vline, sid, f"{path}.variants.{j}")
                continue
            w = v.get("weight", 1)
            if isinstance(w, bool) or not isinstance(w, int | float) or w <= 0:
                p.add("weight must be a positive number", vline, sid, f"{path}.variants.{j}.weight")
            if v["name"] in names:
                p.add(f"duplicate variant {v['name']!r}", vline, sid, f"{path}.variants.{j}.name")
            names.add(v["name"])
            edges[f"variant:{v['name']}"] = check_target(v["next"], p, vline, sid, f"variants.{j}.next")
        if "experiment" in s:
            for sub, message in check_experiment(s["experiment"]):
                p.add(message, fl("experiment"), sid, f"{path}.experiment{sub}")
            exp = s["experiment"]
            if isinstance(exp, Mapping) and exp.get("where") is not None:
                rules["experiment.where"] = check_rule(
                    exp["where"], p, fl("experiment"), sid, path + ".experiment.where", "event"
                )
    elif stype == "update_contact":
        if not any(k in s for k in ("set", "add_tags", "remove_tags", "lifecycle_stage", "score")):
            p.add("update_contact needs set, add_tags, remove_tags, lifecycle_stage or score", line, sid, path)
        if "set" in s and not isinstance(s["set"], Mapping):
            p.add("set maps attribute names to values", fl("set"), sid, path + ".set")
        for k in ("add_tags", "remove_tags"):
            if k in s and not (isinstance(s[k], list) and all(isinstance(t, str) for t in s[k])):
                p.add(f"{k} is a list of tags", fl(k), sid, f"{path}.{k}")
        if "score" in s and (isinstance(s["score"], bool) or not isinstance(s["score"], int | float)):
            p.add("score is a number added to the contact's score", fl("score"), sid, path + ".score")
    elif stype == "repeat":
        _check_repeat(s, p, line, sid, path, fl)
        edges["each"] = check_target(need(s, "each", p, line, sid, path), p, fl("each"), sid, "each")
        edges["done"] = check_target(s.get("done", following), p, fl("done"), sid, "done")
    elif stype == "set_variables":
        _check_set_variables(s, p, fl("set"), sid, path)
    elif stype == "webhook":
        url = need(s, "url", p, line, sid, path)
        if url is not None and not str(url).startswith(("http://", "https://")):
            p.add("url must start with http:// or https://", fl("url"), sid, path + ".url")
        if s.get("payload", "v1") not in WEBHOOK_PAYLOADS:
            p.add("payload is v1 or v2", fl("payload"), sid, path + ".payload")
        if "events" in s and not (type(s["events"]) is int and 0 <= s["events"] <= 100):
            p.add("events is a whole number from 0 to 100", fl("events"), sid, path + ".events")
    elif stype == "crm":
        _check_crm(s, p, line, sid, path, fl)
    elif stype == "task":
        need(s, "title", p, line, sid, path)
        if s.get("due_in") is not None:
            check_duration(s["due_in"], p, fl("due_in"), sid, path + ".due_in")
    elif stype == "assign_owner":
        if not s.get("owner") and not s.get("team"):
            p.add("assign_owner needs owner or team", line, sid, path)
        if s.get("strategy", "fixed") not in ("fixed", "round_robin", "least_loaded"):
            p.add("strategy is fixed, round_robin or least_loaded", fl("strategy"), sid, path + ".strategy")
    elif stype == "enroll":
        need(s, "journey", p, line, sid, path)
    return Step(id=sid, type=stype, line=line, config={**plain(dict(s)), **derived}, edges=edges, rules=rules)


def _check_crm(
    s: Mapping[str, Any], p: Problems, line: int | None, sid: str, path: str, fl: Callable[[str], int | None]
) -> None:
    """``crm``: a known system and action; a task needs a title, a deal a name."""
    system = need(s, "system", p, line, sid, path)
    if system is not None and system not in CRM_SYSTEMS:
        p.add(f"system is one of {', '.join(CRM_SYSTEMS)}", fl("system"), sid, path + ".system")
    action = need(s, "action", p, line, sid, path)
    if action is not None and action not in CRM_ACTIONS:
        p.add(f"action is one of {', '.join(CRM_ACTIONS)}", fl("action"), sid, path + ".action")
    if action == "create_task":
        need(s, "title", p, line, sid, path)
    if action == "create_deal":
        need(s, "deal_name", p, line, sid, path)
    if "properties" in s and not (
        isinstance(s["properties"], Mapping)
        and all(isinstance(v, str | int | float | bool) or v is None for v in s["properties"].values())
    ):
        p.add("properties maps CRM field names to plain values", fl("properties"), sid, path + ".properties")
    if s.get("due_in") is not None:
        check_duration(s["due_in"], p, fl("due_in"), sid, path + ".due_in")
    if s.get("priority") is not None and s["priority"] not in CRM_PRIORITIES:
        p.add(f"priority is one of {', '.join(CRM_PRIORITIES)}", fl("priority"), sid, path + ".priority")
    amount = s.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        p.add("amount is a number", fl("amount"), sid, path + ".amount")
    if "write_back" in s and not isinstance(s["write_back"], bool):
        p.add("write_back is true or false", fl("write_back"), sid, path + ".write_back")


def _check_set_variables(s: Mapping[str, Any], p: Problems, line: int | None, sid: str, path: str) -> None:
    """``set: {name: literal | {from: PATH}}``: names that shadow nothing, readable sources."""
    values = s.get("set")
    if not isinstance(values, Mapping) or not values:
        p.add("set maps variable names to values or {from: PATH}", line, sid, path + ".set")
        return
    for name, value in values.items():
        where = line_of(values, name) or line
        bad = name_problem(name)
        if bad is not None:
            p.add(bad, where, sid, f"{path}.set.{name}")
        if isinstance(value, Mapping):
            if set(value) != {"from"}:
                p.add("a computed value is {from: PATH}", where, sid, f"{path}.set.{name}")
                continue
            bad = source_problem(value["from"], event_only=False)
            if bad is not None:
                p.add(bad, where, sid, f"{path}.set.{name}.from")


def _check_repeat(
    s: Mapping[str, Any], p: Problems, line: int | None, sid: str, path: str, fl: Callable[[str], int | None]
) -> None:
    try:
        parse_period(need(s, "every", p, line, sid, path))
    except ValueError as exc:
        if s.get("every") not in (None, ""):
            p.add(str(exc), fl("every"), sid, path + ".every")
    anchor = check_date_spec(need(s, "anchor", p, line, sid, path), p, fl("anchor"), sid, path + ".anchor")
    if anchor is not None and anchor.event:
        p.add("a series is anchored to an attribute or a variable", fl("anchor"), sid, path + ".anchor")
    count, until, lasts = s.get("count"), s.get("until"), s.get("lasts")
    if count is None and until is None and lasts is None:
        p.add("a repeat needs count (how many), until (the last day) or lasts (how long)", line, sid, path)
    if lasts is not None:
        ok = (
            isinstance(lasts, Mapping)
            and set(lasts) <= {"variable", "attribute", "unit"}
            and lasts.get("unit") in ("d", "w", "mo")
            and len([k for k in ("variable", "attribute") if isinstance(lasts.get(k), str) and lasts[k]]) == 1
        )
        if not ok:
            p.add("lasts is {variable: NAME, unit: d|w|mo} (or attribute: NAME): how many days, weeks or months "
                  "the series runs from its anchor", fl("lasts"), sid, path + ".lasts")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        p.add("count is a whole number >= 1", fl("count"), sid, path + ".count")
    if until is not None:
        try:
            date.fromisoformat(str(until))
        except ValueError:
            p.add(f"until: {until!r} is not a date (YYYY-MM-DD)", fl("until"), sid, path + ".until")
